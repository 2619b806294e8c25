"""``nextham data convert``: nextham shards ↔ DeepH new / legacy folders."""
from __future__ import annotations

import math
from pathlib import Path

from tqdm.auto import tqdm

from . import deeph
from ..conventions import BasisSet
from ..errors import DataError
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
    if not root.exists():
        raise DataError("no such folder", path=root)
    marker = "info.json" if source_format == "deeph" else "element.dat"
    folders = deeph.structure_folders(root / "dft" if (root / "dft").is_dir() else root, marker)
    if not folders:
        raise DataError(f"found no {source_format} structure (no folder holding {marker}); point to the "
                        f"folder that holds dft/<structure>/ (DeepH new format) or the structure folders "
                        f"(legacy), and check --from", path=root)
    for folder in folders:
        yield with_fermi_level(*READERS[source_format](folder))


def with_fermi_level(record, basis):
    """Fill an unknown E_F (``fermi_energy_eV: null``) from the bands and the electron count, if known."""
    if not math.isfinite(record.fermi_energy) and math.isfinite(record.num_electrons):
        record.fermi_energy = record.occupation()["fermi_energy"]
    return record, basis


def convert(source, destination, source_format: str, target_format: str, structures_per_shard: int = 64,
            spinful: bool = False) -> int:
    """Convert a whole dataset; returns the number of structures written. ``spinful`` writes spinless
    structures as H ⊗ I₂ too (DeepH targets only: one training set of DeepH-pack is all one kind)."""
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
    merged, kinds = BasisSet(), []
    for record, basis in tqdm(_read_source(source, source_format), desc="convert", unit="structure"):
        merged = merged.merge(basis)
        kinds.append(record.spinful)
        if spinful:
            record = record.as_spinful()
        WRITERS[target_format](root / record.label, record, merged)
        count += 1
    deeph.warn_mixed_kinds(destination, kinds, spinful)
    return count
