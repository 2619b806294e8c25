"""The configs that ship with the package (``fit.yaml``; ``data/``, ``model/``, ``loss/``,
``optimizer/`` sections) — the one source of truth for every default — and their loader: YAML
(omegaconf) with ``base:`` inheritance and ``key=value`` overrides from the command line.

A config is named by a path, or by its name inside this folder (``fit``, ``fit.yaml``,
``data/embedded.yaml``; ``configs/fit.yaml`` too), so ``nextham fit --config fit`` works from any
directory of an installed wheel. ``base: FILE`` is looked up beside the config that names it, then
here; a copy of a packaged config therefore keeps finding its sections.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

CONFIG_ROOT = Path(__file__).resolve().parent


def packaged_configs() -> list:
    """Names of the configs shipped with the package (relative to :data:`CONFIG_ROOT`)."""
    return sorted(str(path.relative_to(CONFIG_ROOT)) for path in CONFIG_ROOT.rglob("*.yaml"))


def find_config(reference, relative_to: Path | None = None) -> Path:
    """The file a config reference means: the path as given, beside ``relative_to`` (the config naming
    it), or a packaged config by name (with or without ``.yaml``, with or without ``configs/``)."""
    reference = str(reference)
    names = [reference, f"{reference}.yaml"]
    names += [name[len("configs/"):] for name in names if name.startswith("configs/")]
    candidates = [Path(reference)]
    if relative_to is not None:
        candidates += [relative_to.parent / name for name in names]
    candidates += [CONFIG_ROOT / name for name in names]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = f" (referenced from {relative_to})" if relative_to is not None else ""
    raise FileNotFoundError(f"config {reference}{where} does not exist, neither as a file nor among the packaged "
                            f"configs ({', '.join(packaged_configs())})")


def _expand_bases(node, path: Path):
    """Replace every mapping holding ``base: FILE`` by FILE's content merged with the mapping."""
    if OmegaConf.is_dict(node):
        if "base" in node:
            base_path = find_config(node["base"], path)
            base = _expand_bases(OmegaConf.load(base_path), base_path)
            rest = OmegaConf.create({k: v for k, v in node.items() if k != "base"})
            node = OmegaConf.merge(base, rest)
        for key in list(node.keys()):
            node[key] = _expand_bases(node[key], path)
    return node


def load_config(reference, overrides=()) -> dict:
    """Load a YAML config (a path or a packaged name), expand ``base:`` references, apply dotted
    overrides (``engine.xc=lda``), resolve interpolations."""
    path = find_config(reference)
    config = _expand_bases(OmegaConf.load(path), path)
    if overrides:
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_container(config, resolve=True)
