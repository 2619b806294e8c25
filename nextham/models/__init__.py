"""Trained checkpoints shipped with the package (inference-only exports, see
``nextham.train.checkpoints.export_checkpoint``): ``bench.ckpt``, trained with ``configs/bench.yaml`` on
the benchmark dataset (``datasets/bench``); its report is in the README. ``nextham predict`` uses it when
no checkpoint is named, and ``nextham test --config bench`` when the run has none of its own."""
from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parent
DEFAULT_MODEL = "bench"


def shipped_models() -> list:
    return sorted(path.stem for path in MODELS.glob("*.ckpt"))


def shipped_checkpoint(name: str = DEFAULT_MODEL) -> Path:
    """The file of a shipped checkpoint."""
    path = MODELS / f"{name}.ckpt"
    if not path.is_file():
        raise FileNotFoundError(f"no shipped checkpoint {name!r} in {MODELS} (shipped: "
                                f"{', '.join(shipped_models()) or 'none'}); name one with --ckpt, or train one: "
                                f"nextham fit --config bench")
    return path
