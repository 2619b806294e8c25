"""Datasets shipped with the package: ``embedded/``, 40 small crystals computed with the PySCF engine
(recipe: ``nextham/configs/data/embedded.yaml``), the default of every command."""
from pathlib import Path

EMBEDDED_DATASET = Path(__file__).resolve().parent / "embedded"


def embedded_dataset_path() -> Path:
    """Folder of the small real PySCF dataset shipped with the package."""
    return EMBEDDED_DATASET
