"""Sharded HDF5 storage: many structures per shard, one flat array per matrix plus offsets.

Shard layout (all arrays concatenated over the shard's structures)::

    label (S,) str            atom_ptr (S+1,)        edge_ptr (S+1,)
    lattice (S,3,3) Å         spinful (S,) bool      fermi_energy (S,) eV     metadata (S,) JSON
    num_electrons (S,)        valence electrons per cell (NaN when unknown)
    atomic_numbers (N,)       positions (N,3) Å      orbital_counts (N,)
    edge_index (E,2) (i, j)   cell_shift (E,3) R     (i, j local to their structure)
    hamiltonian_ptr (E+1,)    hamiltonian_0 (M,)     hamiltonian (M,) or hamiltonian_delta (M,)  eV
    overlap_ptr (E+1,)        overlap (M_S,)
    kpoint_ptr (S+1,)         reference_kpoints (K,3) fractional
    eigen_ptr (S+1,)          reference_eigenvalues (·,) eV, the DFT code's own at those k-points

Spinful blocks are complex and stored as interleaved (re, im) real pairs, so ``hamiltonian_ptr``
counts real numbers; a shard may mix spinless and spinful structures. Data imported without H(0)
(DeepH folders from other codes) has no ``hamiltonian_0`` dataset (attribute ``has_hamiltonian_0``
false); a shard holds either H(0) for every structure or for none. A compressed shard with H(0) stores
``hamiltonian_delta`` = H(T) − H(0) in place of H(T) when H(0) + ΔH gives back every stored value
of H(T) exactly (format version 2): ΔH has fewer significant bits than H(T), so it compresses about 40 % better,
and the reader returns H(T) as before. ``compression`` applies to every array of the shard, the edge
indices and pointers included (shuffled, as they are small integers). A dataset is a folder of
shards plus ``manifest.json`` (elements, basis, units, counts, provenance, split). Shards and the
manifest are written to a temporary file and renamed, so a crash never leaves a half-written file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..conventions import BasisSet
from ..errors import CorruptShardError, DataError, NonFiniteBlockError
from ..record import HamiltonianRecord
from .atomic import atomic_write

FORMAT_NAME = "nextham-shards"
FORMAT_VERSION = 2  # 2: hamiltonian_delta may stand in for hamiltonian; shards of version 1 read as before
MANIFEST_NAME = "manifest.json"
ORBITAL_CONVENTION = ("real spherical harmonics, m = -l..l within each shell, z polar axis "
                      "(DeepH 'wiki' order); spinful blocks spin-major [[uu, ud], [du, dd]]; overlap spinless")
INDEX_DATASETS = ("label", "atom_ptr", "edge_ptr", "lattice", "spinful", "fermi_energy", "metadata",
                  "atomic_numbers", "positions", "orbital_counts", "edge_index", "cell_shift",
                  "hamiltonian_ptr", "overlap_ptr", "kpoint_ptr", "reference_kpoints", "eigen_ptr",
                  "reference_eigenvalues", "reference_num_bands")
OPTIONAL_INDEX_DATASETS = {"num_electrons": np.nan}  # absent from shards written before they existed
BLOCK_DATASETS = ("hamiltonian_0", "hamiltonian", "overlap")
DELTA_DATASET = "hamiltonian_delta"


def _as_real(array, spinful):
    array = np.asarray(array)
    return np.ascontiguousarray(array).view(array.real.dtype) if spinful else array


def exact_delta(hamiltonian: np.ndarray, hamiltonian_0: np.ndarray) -> np.ndarray | None:
    """H − H(0) in their dtype when H(0) + (H − H(0)) gives back every value of H exactly, else None
    (an entry whose difference needs more mantissa bits than the dtype holds). Only the sign of a
    zero may change; the blocks are validated finite before they get here."""
    delta = hamiltonian - hamiltonian_0
    return delta if np.array_equal(hamiltonian_0 + delta, hamiltonian) else None


def write_shard(path, records, basis: BasisSet | None = None, dtype: str | None = None, compression=None):
    """Validate ``records`` and write them as one shard, atomically. With ``compression`` (an HDF5
    filter such as "gzip") every array is compressed and H(T) is stored as its exact ΔH."""
    records = list(records)
    for record in records:
        record.validate(basis, path=path)
    with_h0 = {record.has_hamiltonian_0 for record in records}
    if len(with_h0) > 1:
        raise DataError("some structures hold H(0) and some do not; write them to separate datasets", path=path)
    has_h0 = with_h0 != {False}
    if dtype is None:
        dtype = np.result_type(*[r.hamiltonian.real.dtype for r in records]) if records else np.float64

    def pointers(sizes):
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def concat(arrays, shape_tail=(), kind=np.float64):
        arrays = [np.asarray(a) for a in arrays]
        return np.concatenate(arrays) if arrays else np.zeros((0,) + shape_tail, dtype=kind)

    def write(temporary):
        with h5py.File(temporary, "w") as h5:
            f = _CompressingWriter(h5, compression)
            h5.attrs["format"] = FORMAT_NAME
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["units"] = "eV, angstrom"
            h5.attrs["has_hamiltonian_0"] = has_h0
            h5.create_dataset("label", data=np.array([r.label for r in records], dtype=h5py.string_dtype()))
            h5.create_dataset("metadata", data=np.array([json.dumps(r.metadata, default=float) for r in records],
                                                        dtype=h5py.string_dtype()))
            f["atom_ptr"] = pointers([r.num_atoms for r in records])
            f["edge_ptr"] = pointers([r.num_edges for r in records])
            f["lattice"] = concat([r.lattice[None] for r in records], (3, 3))
            f["spinful"] = np.array([r.spinful for r in records], dtype=bool)
            f["fermi_energy"] = np.array([r.fermi_energy for r in records], dtype=np.float64)
            f["num_electrons"] = np.array([r.num_electrons for r in records], dtype=np.float64)
            f["atomic_numbers"] = concat([r.atomic_numbers for r in records], kind=np.int64).astype(np.int16)
            f["positions"] = concat([r.positions for r in records], (3,))
            f["orbital_counts"] = concat([r.orbital_counts for r in records], kind=np.int64).astype(np.int32)
            f["edge_index"] = concat([r.edge_index for r in records], (2,), np.int64).astype(np.int32)
            f["cell_shift"] = concat([r.cell_shifts for r in records], (3,), np.int64).astype(np.int32)
            ham_sizes = np.concatenate([np.diff(r.block_offsets("hamiltonian")) * (2 if r.spinful else 1)
                                        for r in records]) if records else np.zeros(0)
            f["hamiltonian_ptr"] = pointers(ham_sizes)
            f["overlap_ptr"] = pointers(np.concatenate([np.diff(r.block_offsets("overlap")) for r in records])
                                        if records else np.zeros(0))
            blocks = {name: concat([_as_real(getattr(r, name), r.spinful and name != "overlap")
                                    for r in records]).astype(dtype)
                      for name in (BLOCK_DATASETS if has_h0 else BLOCK_DATASETS[1:])}
            delta = exact_delta(blocks["hamiltonian"], blocks["hamiltonian_0"]) if has_h0 and compression else None
            if delta is not None:
                blocks[DELTA_DATASET] = delta
                del blocks["hamiltonian"]
            for name, data in blocks.items():
                f[name] = data
            f["kpoint_ptr"] = pointers([len(r.reference_kpoints) for r in records])
            f["reference_kpoints"] = concat([r.reference_kpoints for r in records], (3,))
            f["eigen_ptr"] = pointers([r.reference_eigenvalues.size for r in records])
            f["reference_eigenvalues"] = concat([r.reference_eigenvalues.ravel() for r in records])
            f["reference_num_bands"] = np.array([r.reference_eigenvalues.shape[-1] if r.reference_eigenvalues.size
                                                 else 0 for r in records], dtype=np.int64)

    atomic_write(path, write)
    return Path(path)


class _CompressingWriter:
    """``writer[name] = array`` creates the dataset with ``compression`` (+ byte shuffle) when the
    array holds anything; empty arrays and ``compression=None`` are written as they are."""

    def __init__(self, file, compression):
        self.file, self.compression = file, compression

    def __setitem__(self, name, data):
        data = np.asarray(data)
        if self.compression and data.size:
            self.file.create_dataset(name, data=data, compression=self.compression, shuffle=True)
        else:
            self.file[name] = data


class ShardReader:
    """Random access to the structures of one shard.

    The HDF5 handle is opened lazily and per process (a DataLoader worker forked after construction
    opens its own); the small index arrays are read once per process."""

    def __init__(self, path):
        self.path = Path(path)
        self._pid = None
        self._file = None
        self._index = None

    def _open(self):
        if self._pid == os.getpid() and self._file is not None:
            return
        self._pid, self._file = os.getpid(), None
        try:
            self._file = h5py.File(self.path, "r")
            if self._file.attrs.get("format") != FORMAT_NAME:
                raise CorruptShardError("not a nextham shard (missing format attribute)", path=self.path)
            self._index = {name: self._file[name][()] for name in INDEX_DATASETS}
            count = len(self._index["label"])
            for name, fill in OPTIONAL_INDEX_DATASETS.items():
                self._index[name] = self._file[name][()] if name in self._file else np.full(count, fill)
            self._has_hamiltonian_0 = bool(self._file.attrs.get("has_hamiltonian_0", True))
            self._hamiltonian_name = DELTA_DATASET if DELTA_DATASET in self._file else "hamiltonian"
            if self._hamiltonian_name == DELTA_DATASET and not self._has_hamiltonian_0:
                raise CorruptShardError("holds H(T) as a difference from H(0) but no H(0)", path=self.path)
        except CorruptShardError:
            raise
        except (OSError, KeyError, ValueError) as error:
            self._file = None
            raise CorruptShardError(f"cannot read shard: {error}", path=self.path) from error
        self._check_index()

    def _check_index(self):
        index = self._index
        sizes = {
            "atom_ptr": len(index["atomic_numbers"]), "edge_ptr": len(index["edge_index"]),
            "kpoint_ptr": len(index["reference_kpoints"]), "eigen_ptr": len(index["reference_eigenvalues"]),
            "hamiltonian_ptr": self._file[self._hamiltonian_name].shape[0],
            "overlap_ptr": self._file["overlap"].shape[0],
        }
        for name, size in sizes.items():
            pointer = index[name]
            if len(pointer) == 0 or pointer[0] != 0 or pointer[-1] != size or np.any(np.diff(pointer) < 0):
                raise CorruptShardError(f"index {name} is inconsistent with its data ({size} entries)", path=self.path)
        if self._has_hamiltonian_0 and ("hamiltonian_0" not in self._file or self._file["hamiltonian_0"].shape
                                       != self._file[self._hamiltonian_name].shape):
            raise CorruptShardError("hamiltonian_0 and hamiltonian have different sizes", path=self.path)

    def __len__(self):
        self._open()
        return len(self._index["label"])

    @property
    def labels(self):
        self._open()
        return [label.decode() if isinstance(label, bytes) else str(label) for label in self._index["label"]]

    @property
    def has_hamiltonian_0(self) -> bool:
        self._open()
        return self._has_hamiltonian_0

    def index_array(self, name: str) -> np.ndarray:
        """One of the shard's index arrays (``INDEX_DATASETS``), e.g. ``spinful`` or ``edge_ptr``."""
        self._open()
        return self._index[name]

    def num_edges(self, position: int) -> int:
        self._open()
        pointer = self._index["edge_ptr"]
        return int(pointer[position + 1] - pointer[position])

    def read(self, position: int) -> HamiltonianRecord:
        self._open()
        index = self._index
        label = self.labels[position]
        try:
            a0, a1 = index["atom_ptr"][position:position + 2]
            e0, e1 = index["edge_ptr"][position:position + 2]
            k0, k1 = index["kpoint_ptr"][position:position + 2]
            v0, v1 = index["eigen_ptr"][position:position + 2]
            h0, h1 = index["hamiltonian_ptr"][e0], index["hamiltonian_ptr"][e1]
            s0, s1 = index["overlap_ptr"][e0], index["overlap_ptr"][e1]
            spinful = bool(index["spinful"][position])
            blocks, stored = {"hamiltonian_0": None}, {}
            for name in BLOCK_DATASETS if self._has_hamiltonian_0 else BLOCK_DATASETS[1:]:
                lo, hi = (s0, s1) if name == "overlap" else (h0, h1)
                if name == "hamiltonian" and self._hamiltonian_name == DELTA_DATASET:
                    data = stored["hamiltonian_0"] + self._file[DELTA_DATASET][lo:hi]
                else:
                    data = self._file[name][lo:hi]
                stored[name] = data
                if not np.isfinite(data).all():
                    raise NonFiniteBlockError(f"{name} holds NaN or inf", path=self.path, structure=label)
                if spinful and name != "overlap":
                    data = data.view(np.result_type(data.dtype, np.complex64))
                blocks[name] = data
            nbands = int(index["reference_num_bands"][position])
            eigenvalues = index["reference_eigenvalues"][v0:v1]
            record = HamiltonianRecord(
                label=label,
                atomic_numbers=index["atomic_numbers"][a0:a1],
                positions=index["positions"][a0:a1],
                lattice=index["lattice"][position],
                orbital_counts=index["orbital_counts"][a0:a1],
                edge_index=index["edge_index"][e0:e1],
                cell_shifts=index["cell_shift"][e0:e1],
                spinful=spinful,
                fermi_energy=float(index["fermi_energy"][position]),
                num_electrons=float(index["num_electrons"][position]),
                reference_kpoints=index["reference_kpoints"][k0:k1],
                reference_eigenvalues=eigenvalues.reshape(-1, nbands) if nbands else np.zeros((0, 0)),
                metadata=json.loads(index["metadata"][position]),
                **blocks,
            )
        except NonFiniteBlockError:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise CorruptShardError(f"cannot read structure: {error}", path=self.path, structure=label) from error
        return record

    def __iter__(self):
        for position in range(len(self)):
            yield self.read(position)

    def close(self):
        if self._file is not None:
            self._file.close()
        self._file = None

    def __getstate__(self):
        # h5py handles do not pickle; a worker process reopens the file
        state = dict(self.__dict__)
        state.update(_file=None, _pid=None, _index=None)
        return state


# ----------------------------------------------------------------------------- manifest / dataset
def _label_hash(label: str) -> int:
    return int(hashlib.sha256(label.encode()).hexdigest()[:12], 16)


TEST_ONLY_GROUPS = ("new_combination", "held_out_element")
EVALUATION_GROUPS = ("in_distribution",) + TEST_ONLY_GROUPS


def assign_splits(labels, fractions: dict, groups: dict | None = None) -> dict:
    """Deterministic split with the requested proportions: labels ordered by a hash of their name,
    then cut in the order of ``fractions``. Every split with a positive fraction gets at least one
    structure when there are enough of them. Labels whose group (``groups[label]``) is one of
    ``TEST_ONLY_GROUPS`` are never trained on: they go to the last split (test) whatever the fractions."""
    groups = groups or {}
    held_out = sorted(label for label in labels if groups.get(label) in TEST_ONLY_GROUPS)
    ordered = sorted((label for label in labels if groups.get(label) not in TEST_ONLY_GROUPS), key=_label_hash)
    names = list(fractions)
    total = sum(fractions.values())
    counts = [int(round(len(ordered) * fractions[name] / total)) for name in names]
    for index, name in enumerate(names):
        if fractions[name] > 0 and counts[index] == 0 and len(ordered) >= len(names):
            counts[index] = 1
    counts[0] = len(ordered) - sum(counts[1:])  # the first split (train) takes the remainder
    out, start = {}, 0
    for name, count in zip(names, counts):
        out[name] = sorted(ordered[start:start + count])
        start += count
    if held_out:
        last = names[-1]
        out[last] = sorted(out[last] + held_out)
    return out


def read_manifest(root) -> dict:
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError("no manifest.json: not a nextham dataset folder", path=path) from None
    except json.JSONDecodeError as error:
        raise CorruptShardError(f"manifest is not valid JSON: {error}", path=path) from None
    if manifest.get("format") != FORMAT_NAME:
        raise CorruptShardError(f"manifest format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}", path=path)
    return manifest


def write_manifest(root, manifest: dict):
    text = json.dumps(manifest, indent=1, sort_keys=False, default=float)
    atomic_write(Path(root) / MANIFEST_NAME, lambda temporary: Path(temporary).write_text(text))


class ShardedDataset:
    """A dataset folder: manifest plus shards, read-only."""

    def __init__(self, root):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.basis = BasisSet.from_dict(self.manifest["basis"])
        self.shards = [ShardReader(self.root / shard["file"]) for shard in self.manifest["shards"]]
        self._locations = {}
        for shard_number, shard in enumerate(self.manifest["shards"]):
            for position, label in enumerate(shard["structures"]):
                self._locations[label] = (shard_number, position)

    @property
    def labels(self):
        return list(self._locations)

    def location(self, label: str):
        """(shard number, position inside the shard) of a structure."""
        try:
            return self._locations[label]
        except KeyError:
            raise DataError(f"no structure {label!r} in this dataset", path=self.root) from None

    @property
    def has_spinful(self) -> bool:
        return any(reader.index_array("spinful").any() for reader in self.shards)

    @property
    def has_hamiltonian_0(self) -> bool:
        """False for data imported without H(0): it can be evaluated and plotted, not trained on."""
        return all(reader.has_hamiltonian_0 for reader in self.shards)

    def split_labels(self, split: str):
        return list(self.manifest.get("split", {}).get(split, []))

    def elements_of(self, labels) -> set:
        """Chemical symbols of the structures ``labels`` (from the shards' index, no block is read)."""
        from ..conventions import element_symbol

        numbers = set()
        for label in labels:
            shard, position = self.location(label)
            pointer = self.shards[shard].index_array("atom_ptr")
            numbers.update(self.shards[shard].index_array("atomic_numbers")[pointer[position]:pointer[position + 1]].tolist())
        return {element_symbol(z) for z in numbers}

    def group_of(self, label: str) -> str:
        """The evaluation group of a structure: in_distribution, new_combination or held_out_element."""
        return self.manifest.get("groups", {}).get(label, "in_distribution")

    def __len__(self):
        return len(self._locations)

    def read(self, label: str) -> HamiltonianRecord:
        shard_number, position = self.location(label)
        reader = self.shards[shard_number]
        record = reader.read(position)
        if record.label != label:
            raise CorruptShardError(f"manifest says position {position} holds {label!r}, shard holds {record.label!r}",
                                    path=reader.path, structure=label)
        return record

    def __iter__(self):
        for reader in self.shards:
            yield from reader


class DatasetWriter:
    """Appends shards to a dataset folder and keeps its manifest current after every shard."""

    def __init__(self, root, basis: BasisSet | None = None, provenance: dict | None = None,
                 split_fractions: dict | None = None, dtype: str = "float64", compression=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.dtype, self.compression = dtype, compression
        if (self.root / MANIFEST_NAME).exists():
            self.manifest = read_manifest(self.root)
            self.basis = BasisSet.from_dict(self.manifest["basis"])
        else:
            self.manifest = {
                "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "units": {"energy": "eV", "length": "angstrom", "kpoints": "fractional"},
                "orbital_convention": ORBITAL_CONVENTION,
                "elements": [], "basis": {}, "counts": {}, "shards": [],
                "provenance": provenance or {},
                "split_fractions": split_fractions or {"train": 0.8, "val": 0.1, "test": 0.1},
                "split": {}, "failed": {},
            }
            self.basis = BasisSet()
        if basis is not None:
            self.basis = self.basis.merge(basis, path=self.root / MANIFEST_NAME)
        if provenance is not None:
            self.manifest["provenance"] = provenance  # the recipe of the latest run over this folder

    @property
    def completed_labels(self) -> set:
        return {label for shard in self.manifest["shards"] for label in shard["structures"]}

    def check_keys(self, keys: dict):
        """Refuse to mix results: a structure already written under ``label`` must have been computed
        from the same geometry and engine settings (content key) as the recipe now asks for."""
        written = self.manifest.get("keys", {})
        changed = sorted(label for label, key in keys.items() if label in written and written[label] != key)
        if changed:
            raise DataError(f"{len(changed)} structures already written here were computed from other geometry or "
                            f"engine settings than the recipe now gives (first: {changed[0]}); write to a new output "
                            f"folder, or restore the recipe", path=self.root / MANIFEST_NAME)

    def add_basis(self, basis: BasisSet):
        self.basis = self.basis.merge(basis, path=self.root / MANIFEST_NAME)

    def forget_failures_except(self, labels):
        """Drop failure records of structures the current recipe no longer asks for."""
        wanted = set(labels)
        self.manifest["failed"] = {k: v for k, v in self.manifest["failed"].items() if k in wanted}
        if "failed_keys" in self.manifest:
            self.manifest["failed_keys"] = {k: v for k, v in self.manifest["failed_keys"].items() if k in wanted}

    def deterministic_failures(self, kinds, keys: dict) -> set:
        """Labels whose recorded failure is of one of ``kinds`` (exception names the reason starts with)
        and was computed under the same content key as ``keys`` now gives."""
        recorded = self.manifest.get("failed_keys", {})
        return {label for label, reason in self.manifest["failed"].items()
                if reason.startswith(tuple(kinds)) and label in keys and recorded.get(label) == keys[label]}

    def record_failure(self, label: str, reason: str, key: str | None = None):
        """``label`` failed for ``reason``; ``key``, its content key, lets a recipe that reuses this
        dataset take the failure as it is instead of computing the structure again."""
        self.manifest["failed"][label] = reason
        if key:
            self.manifest.setdefault("failed_keys", {})[label] = key
        write_manifest(self.root, self._refresh())

    def append_shard(self, records):
        records = list(records)
        if not records:
            return None
        number = 1 + max([int(s["file"].split("-")[1].split(".")[0]) for s in self.manifest["shards"]], default=-1)
        name = f"shard-{number:05d}.h5"
        write_shard(self.root / name, records, self.basis, dtype=self.dtype, compression=self.compression)
        # the newest layout any shard of the folder uses (older shards read as they are)
        self.manifest["format_version"] = max(int(self.manifest.get("format_version", 1)), FORMAT_VERSION)
        self.manifest["shards"].append({
            "file": name, "structures": [r.label for r in records],
            "num_atoms": int(sum(r.num_atoms for r in records)), "num_edges": int(sum(r.num_edges for r in records)),
        })
        for record in records:
            self.manifest["failed"].pop(record.label, None)
            self.manifest.get("failed_keys", {}).pop(record.label, None)
            if record.metadata.get("content_key"):
                self.manifest.setdefault("keys", {})[record.label] = record.metadata["content_key"]
            group = record.metadata.get("group", "in_distribution")
            if group != "in_distribution":
                self.manifest.setdefault("groups", {})[record.label] = group
        write_manifest(self.root, self._refresh())
        return self.root / name

    def refresh_manifest(self):
        """Recompute derived fields (split, counts, elements) and rewrite the manifest."""
        write_manifest(self.root, self._refresh())

    def _refresh(self):
        manifest = self.manifest
        manifest["basis"] = self.basis.to_dict()
        manifest["elements"] = sorted(manifest["basis"])
        labels = [label for shard in manifest["shards"] for label in shard["structures"]]
        manifest["split"] = assign_splits(labels, manifest["split_fractions"], manifest.get("groups"))
        manifest["counts"] = {
            "structures": len(labels), "shards": len(manifest["shards"]),
            "atoms": int(sum(s["num_atoms"] for s in manifest["shards"])),
            "edges": int(sum(s["num_edges"] for s in manifest["shards"])),
            "failed": len(manifest["failed"]),
        }
        return manifest
