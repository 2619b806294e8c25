"""YAML configs (omegaconf) with ``key=value`` overrides from the command line."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"


def load_config(path, overrides=()) -> dict:
    """Load a YAML config, apply dotted overrides (``engine.xc=lda``), resolve interpolations."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    config = OmegaConf.load(path)
    if overrides:
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))
    return OmegaConf.to_container(config, resolve=True)
