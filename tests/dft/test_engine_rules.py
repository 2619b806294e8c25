"""Per-element engine rules: a cell takes the strictest rule among its elements; an element without a
rule, or one marked as failing, is refused in one line naming it and the rule to add."""
import pytest

from nextham.configs import load_config
from nextham.dft.engine_rules import (basis_settings, check_rules, packaged_rules, resolve_engine_settings,
                                      with_family_rules)
from nextham.errors import UnknownElementError

ENGINE = {"basis": "SZV-MOLOPT-SR-GTH", "pseudo": "GTH-PBE", "ke_cutoff_hartree": 80.0, "pair_cutoff_angstrom": 10.6,
          "smearing_hartree": 0.0, "valence": {"Mg": 2},
          "element_rules": {"Zn": {"ke_cutoff_hartree": 160.0, "pair_cutoff_angstrom": 12.0},
                            "S": {}, "Si": {"pair_cutoff_angstrom": 11.0}, "Cu": {"smearing_hartree": 0.005},
                            "Na": {"valence": 9, "ke_cutoff_hartree": 240.0},
                            "K": {"fails": "K 3s misses the band check at 200 Ha (3e-4 Ha)"}}}


def test_a_mixed_cell_takes_the_strictest_rule_of_its_elements():
    zns_si = resolve_engine_settings(ENGINE, ["Zn", "S", "Si", "Si"])
    assert zns_si["ke_cutoff_hartree"] == 160.0 and zns_si["pair_cutoff_angstrom"] == 12.0
    assert "element_rules" not in zns_si and zns_si["smearing_hartree"] == 0.0
    silicon = resolve_engine_settings(ENGINE, ["Si"])
    assert silicon["ke_cutoff_hartree"] == 80.0 and silicon["pair_cutoff_angstrom"] == 11.0  # never lowered
    assert resolve_engine_settings(ENGINE, ["Cu", "S"])["smearing_hartree"] == 0.005  # a metal's smearing
    assert resolve_engine_settings(ENGINE, ["Na", "S"])["valence"] == {"Mg": 2, "Na": 9}
    assert basis_settings(ENGINE)["valence"] == {"Mg": 2, "Na": 9} and "element_rules" not in basis_settings(ENGINE)


def test_elements_without_a_rule_or_with_a_failing_one_are_refused_naming_the_fix():
    with pytest.raises(UnknownElementError, match=r"element Au has no engine rule.*engine_band_check.py --only Au"):
        resolve_engine_settings(ENGINE, ["Au"], path="Au.cif", structure="Au")
    with pytest.raises(UnknownElementError, match=r"\[file Au.cif, structure 'Au'\]"):
        resolve_engine_settings(ENGINE, ["Au"], path="Au.cif", structure="Au")
    with pytest.raises(UnknownElementError, match=r"element K cannot be stored by this engine: K 3s misses"):
        resolve_engine_settings(ENGINE, ["K", "S"])
    # a spin–orbit cell takes engine.soc's basis and ECPs: the GTH table does not apply
    assert resolve_engine_settings(ENGINE, ["Au"], soc=True)["ke_cutoff_hartree"] == 80.0
    # a recipe without a table gives every element the section as it is
    assert resolve_engine_settings({"ke_cutoff_hartree": 80.0}, ["Au"]) == {"ke_cutoff_hartree": 80.0}


def test_a_typo_in_a_rule_names_the_nearest_key_and_elements_are_real():
    with pytest.raises(ValueError, match=r"Zn: unknown key 'ke_cutoff'; did you mean 'ke_cutoff_hartree'"):
        check_rules({"Zn": {"ke_cutoff": 160}})
    with pytest.raises(ValueError, match=r"'Sii' is not an element; did you mean 'Si'"):
        check_rules({"Sii": {}})


def test_the_packaged_table_is_what_the_recipes_name_and_fills_in_for_old_checkpoints():
    table = packaged_rules()
    for recipe in ("data/embedded.yaml", "data/bench.yaml", "data/generate.yaml"):
        assert load_config(recipe)["engine"]["element_rules"] == table
    old_card = {k: v for k, v in ENGINE.items() if k != "element_rules"}
    assert with_family_rules(old_card)["element_rules"] == table
    assert "element_rules" not in with_family_rules({**old_card, "basis": "DZVP-MOLOPT-SR-GTH"})  # another family
