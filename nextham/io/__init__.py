"""Data on disk: nextham's sharded HDF5 datasets, the DeepH formats (new and legacy), conversion
between them, and the dataset report (``nextham data inspect``). Writes are atomic."""
from .shards import DatasetWriter, ShardedDataset, ShardReader, read_manifest, write_shard

__all__ = ["DatasetWriter", "ShardedDataset", "ShardReader", "read_manifest", "write_shard"]
