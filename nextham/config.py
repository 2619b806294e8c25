"""YAML configs (omegaconf) with ``key=value`` overrides from the command line."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"


def _resolve_path(reference, relative_to: Path) -> Path:
    """A ``base:`` path: as given, else relative to the config, else to the project's configs/."""
    candidates = [Path(reference), relative_to.parent / reference, CONFIG_ROOT.parent / reference, CONFIG_ROOT / reference]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"base config {reference} (referenced from {relative_to}) does not exist")


def _expand_bases(node, path: Path):
    """Replace every mapping holding ``base: FILE`` by FILE's content merged with the mapping."""
    if OmegaConf.is_dict(node):
        if "base" in node:
            base_path = _resolve_path(node["base"], path)
            base = _expand_bases(OmegaConf.load(base_path), base_path)
            rest = OmegaConf.create({k: v for k, v in node.items() if k != "base"})
            node = OmegaConf.merge(base, rest)
        for key in list(node.keys()):
            node[key] = _expand_bases(node[key], path)
    return node


def load_config(path, overrides=()) -> dict:
    """Load a YAML config, expand ``base:`` references, apply dotted overrides (``engine.xc=lda``),
    resolve interpolations."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    config = _expand_bases(OmegaConf.load(path), path)
    if overrides:
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_container(config, resolve=True)
