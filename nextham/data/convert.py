"""``nextham data convert``: nextham shards ↔ DeepH new / legacy folders."""
from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from . import deeph
from .basis import BasisSet
from .shards import DatasetWriter, ShardedDataset

READERS = {"deeph": deeph.read_deeph, "deeph-legacy": deeph.read_deeph_legacy}
WRITERS = {"deeph": deeph.write_deeph, "deeph-legacy": deeph.write_deeph_legacy}


def _read_source(source, source_format):
    if source_format == "shards":
        dataset = ShardedDataset(source)
        for record in dataset:
            yield record, dataset.basis
        return
    root = Path(source)
    folders = deeph.structure_folders(root / "dft" if (root / "dft").is_dir() else root)
    for folder in folders:
        yield READERS[source_format](folder)


def convert(source, destination, source_format: str, target_format: str, structures_per_shard: int = 64) -> int:
    """Convert a whole dataset; returns the number of structures written."""
    destination = Path(destination)
    count = 0
    if target_format == "shards":
        writer = DatasetWriter(destination, provenance={"converted_from": str(source), "format": source_format})
        buffer = []
        for record, basis in tqdm(_read_source(source, source_format), desc="convert", unit="structure"):
            writer.add_basis(basis)
            buffer.append(record)
            if len(buffer) == structures_per_shard:
                writer.append_shard(buffer)
                count, buffer = count + len(buffer), []
        writer.append_shard(buffer)
        return count + len(buffer)
    root = destination / "dft" if target_format == "deeph" else destination
    merged = BasisSet()
    for record, basis in tqdm(_read_source(source, source_format), desc="convert", unit="structure"):
        merged = merged.merge(basis)
        WRITERS[target_format](root / record.label, record, merged)
        count += 1
    return count
