"""Files shipped with the package, and where they are.

- ``embedded/``: 40 small crystals computed with the PySCF engine (recipe
  ``nextham/configs/data/embedded.yaml``), the default dataset of every command.
- ``bench.ckpt``: the trained model, an inference-only export (``nextham.train.checkpoints.export_checkpoint``)
  of the run ``configs/bench.yaml`` trains on ``datasets/bench``. ``nextham predict`` uses it when no
  checkpoint is named, and ``nextham test --config bench`` when the run has none of its own.
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
EMBEDDED_DATASET = ASSETS / "embedded"
DEFAULT_MODEL = "bench"


def embedded_dataset_path() -> Path:
    """Folder of the small real PySCF dataset shipped with the package."""
    return EMBEDDED_DATASET


def shipped_models() -> list:
    return sorted(path.stem for path in ASSETS.glob("*.ckpt"))


def shipped_checkpoint(name: str = DEFAULT_MODEL) -> Path:
    """The file of a shipped checkpoint."""
    path = ASSETS / f"{name}.ckpt"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped checkpoint {name!r} in {ASSETS} (shipped: "
                                f"{', '.join(shipped_models()) or 'none'}); name one with --ckpt, or train one: "
                                f"nextham fit --config bench")
    return path
