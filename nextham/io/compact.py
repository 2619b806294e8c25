"""``nextham data compact``: rewrite a dataset's shards in the compressed layout, losslessly.

Shards written without compression, or before every array was compressed and H(T) stored as its
exact ΔH (format version 2 of :mod:`.shards`), are read, written again to a temporary file, read back
and compared field by field with what they held; only a shard that reads back the same replaces the
old one (atomically), so a dataset is never left half converted or changed in value. The manifest is
untouched: file names, structures and splits stay as they are.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError
from .shards import ShardReader, read_manifest, write_shard


def _stored_dtype(path: Path) -> np.dtype:
    with h5py.File(path, "r") as f:
        return f["overlap"].dtype


def _same(left, right) -> bool:
    if isinstance(left, np.ndarray):
        # equal values, ±0 alike; NaN cannot occur (shards are validated finite)
        return left.shape == right.shape and left.dtype == right.dtype and np.array_equal(left, right)
    return left == right or (left != left and right != right)


def differing_fields(a, b) -> list[str]:
    """Names of the fields in which two records differ."""
    return [field.name for field in dataclasses.fields(a) if not _same(getattr(a, field.name), getattr(b, field.name))]


def compact_dataset(root, compression: str = "gzip", progress: bool = True) -> dict:
    """Rewrite every shard of the dataset at ``root`` compressed; returns
    {"shards", "bytes_before", "bytes_after"}. Raises DataError naming the shard and structure if a
    rewritten shard would not read back as it was (the old shard is then kept)."""
    from tqdm.auto import tqdm

    root = Path(root)
    manifest = read_manifest(root)
    before = after = 0
    for entry in tqdm(manifest["shards"], desc="compact", unit="shard", disable=not progress):
        path = root / entry["file"]
        before += path.stat().st_size
        reader = ShardReader(path)
        records = list(reader)
        reader.close()
        dtype = _stored_dtype(path)
        temporary = path.with_name(path.name + ".compact")
        try:
            write_shard(temporary, records, dtype=str(dtype), compression=compression)
            rewritten = ShardReader(temporary)
            for position, record in enumerate(records):
                fields = differing_fields(record, rewritten.read(position))
                if fields:
                    raise DataError(f"the compacted shard would change {', '.join(fields)}; the shard is kept as it was",
                                    path=path, structure=record.label)
            rewritten.close()
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        after += path.stat().st_size
    return {"shards": len(manifest["shards"]), "bytes_before": before, "bytes_after": after}
