"""Per-element engine rules: what a cell needs when it holds an element — the plane-wave cutoff its
semicore states need to pass the band check, the pair range its diffuse functions need, Fermi
smearing for a metal's SCF, its GTH valence — kept as one table in a recipe's engine section
(``engine.element_rules``, packaged as ``configs/engine/element_rules.yaml``) and resolved for a
structure as the strictest rule among its elements. ``nextham data generate`` and ``nextham predict``
resolve through this one function, so a crystal predicted from a file gets exactly the settings its
training data had; a checkpoint carries the table in its card with the rest of the engine section.

A rule is a mapping of these keys (all optional):

``ke_cutoff_hartree``, ``pair_cutoff_angstrom``, ``min_pair_cutoff_angstrom``, ``ft_range_angstrom``,
``scf_kmesh_length_angstrom``, ``smearing_hartree``, ``max_cycle``
    lower bounds: the cell takes the largest of the engine section's value and its elements' rules;
``valence``
    the element's GTH valence (the ``q`` of its pseudopotential and basis);
``measured``
    where the numbers come from (a note);
``fails``
    why the element cannot be stored at any cutoff tried: structures holding it are refused.

A recipe with no table (an older one, or a checkpoint trained before tables existed) gives every
element the engine section as it is.
"""
from __future__ import annotations

import difflib

from ..conventions.elements import ELEMENT_SYMBOLS
from ..errors import UnknownElementError

LOWER_BOUNDS = ("ke_cutoff_hartree", "pair_cutoff_angstrom", "min_pair_cutoff_angstrom", "ft_range_angstrom",
                "scf_kmesh_length_angstrom", "smearing_hartree", "max_cycle")
RULE_KEYS = LOWER_BOUNDS + ("valence", "measured", "fails")
MEASURE = "python benchmarks/engine_band_check.py --only {symbol}"


def check_rules(rules: dict, where: str = "engine.element_rules") -> dict:
    """``rules`` unchanged when every key is one a rule can hold; else a one-line error naming the
    element, the key and the nearest valid one."""
    for symbol, rule in (rules or {}).items():
        if symbol not in ELEMENT_SYMBOLS[1:]:
            near = difflib.get_close_matches(str(symbol), ELEMENT_SYMBOLS[1:], n=1, cutoff=0.5)
            raise ValueError(f"{where}: {symbol!r} is not an element" + (f"; did you mean {near[0]!r}?" if near else ""))
        if not isinstance(rule, dict):
            raise ValueError(f"{where}.{symbol} must be a mapping of settings, not {rule!r}")
        for key in rule:
            if key not in RULE_KEYS:
                near = difflib.get_close_matches(key, RULE_KEYS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; a rule holds {', '.join(RULE_KEYS)}"
                raise ValueError(f"{where}.{symbol}: unknown key {key!r}{hint}")
    return rules


def resolve_engine_settings(engine: dict, symbols, path=None, structure=None, soc: bool = False) -> dict:
    """The engine settings of a structure of ``symbols``: ``engine`` without its ``element_rules`` table,
    every lower bound raised to the strictest rule among the elements, each element's valence set.
    An element the table lacks, or one it marks as failing, is a one-line error naming the element and
    the rule to add. A spin–orbit cell (``soc``) takes its basis and ECPs from ``engine.soc``: the table,
    measured for GTH cells, does not apply."""
    rules = engine.get("element_rules")
    settings = {key: value for key, value in engine.items() if key != "element_rules"}
    if rules is None or soc:
        return settings
    check_rules(rules)
    for symbol in sorted(set(symbols)):
        rule = rules.get(symbol)
        if rule is None:
            raise UnknownElementError(
                f"element {symbol} has no engine rule (engine.element_rules): the band check was never run for "
                f"it; run `{MEASURE.format(symbol=symbol)}` and add `{symbol}: {{ke_cutoff_hartree: <the cutoff that "
                f"passes>}}` to the table", path=path, structure=structure)
        if rule.get("fails"):
            raise UnknownElementError(
                f"element {symbol} cannot be stored by this engine: {rule['fails']} (engine.element_rules.{symbol}); "
                f"a rule that passes `{MEASURE.format(symbol=symbol)}` (another valence or basis) must replace it",
                path=path, structure=structure)
        for key in LOWER_BOUNDS:
            if key in rule:
                settings[key] = max(settings[key], rule[key]) if key in settings else rule[key]
        if "valence" in rule:
            settings["valence"] = {**(settings.get("valence") or {}), symbol: int(rule["valence"])}
    return settings


def basis_settings(engine: dict) -> dict:
    """The engine section without the table and with every rule's valence in its valence mapping: what
    decides the basis each element of the table gets in any structure (the basis family's orbital
    layout, the basis of an element a model never saw)."""
    rules = engine.get("element_rules") or {}
    valence = {**(engine.get("valence") or {}),
               **{symbol: int(rule["valence"]) for symbol, rule in rules.items() if "valence" in rule}}
    return {**resolve_engine_settings(engine, ()), "valence": valence}


# the basis family and pseudopotentials the packaged table was measured with
PACKAGED_FAMILY = {"basis": "SZV-MOLOPT-SR-GTH", "pseudo": "GTH-PBE"}


def packaged_rules() -> dict:
    """The packaged table (``configs/engine/element_rules.yaml``)."""
    from ..configs import load_config

    return check_rules(load_config("engine/element_rules.yaml"), "configs/engine/element_rules.yaml")


def with_family_rules(engine: dict) -> dict:
    """``engine`` with a rules table: its own, else the packaged one where the engine is of the family it
    was measured for (a checkpoint trained before tables existed), else none."""
    if "element_rules" in engine or any(engine.get(key) != value for key, value in PACKAGED_FAMILY.items()):
        return engine
    return {**engine, "element_rules": packaged_rules()}
