"""Data layer: basis conventions, DFT data generation, sharded HDF5 storage, DeepH formats and the
LightningDataModule."""
from pathlib import Path

from ..conventions import BasisSet, ElementBasis
from ..errors import (BasisMismatchError, CorruptShardError, DataError, MissingBlockError,
                     NonFiniteBlockError, UnknownElementError, ValidationFailedError)
from ..record import HamiltonianRecord
from .shards import ShardedDataset, ShardReader, write_shard

EMBEDDED_DATASET = Path(__file__).resolve().parent / "embedded"


def embedded_dataset_path() -> Path:
    """Folder of the small real PySCF dataset shipped with the package."""
    return EMBEDDED_DATASET


__all__ = [
    "BasisSet", "ElementBasis", "HamiltonianRecord", "ShardedDataset", "ShardReader", "write_shard",
    "DataError", "CorruptShardError", "MissingBlockError", "BasisMismatchError", "NonFiniteBlockError",
    "UnknownElementError", "ValidationFailedError", "embedded_dataset_path", "EMBEDDED_DATASET",
]
