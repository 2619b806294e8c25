"""Sharded HDF5: exact round trips and clear errors on bad input."""
import dataclasses

import h5py
import numpy as np
import pytest

from nextham.errors import (BasisMismatchError, CorruptShardError, MissingBlockError, NonFiniteBlockError,
                            UnknownElementError)
from nextham.io import ShardReader, write_shard
from nextham.conventions import BasisSet, ElementBasis, element_symbol
from nextham.io.shards import DatasetWriter, ShardedDataset, read_manifest


def assert_records_equal(a, b):
    for field in dataclasses.fields(a):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, np.ndarray):
            np.testing.assert_array_equal(left, right, err_msg=field.name)
        else:
            assert left == right or (left != left and right != right), field.name


def test_round_trip_is_exact(tmp_path, embedded, spinless_record, spinful_record):
    path = write_shard(tmp_path / "a.h5", [spinless_record, spinful_record], embedded.basis)
    reader = ShardReader(path)
    assert reader.labels == [spinless_record.label, spinful_record.label]
    assert_records_equal(reader.read(0), spinless_record)
    assert_records_equal(reader.read(1), spinful_record)
    assert reader.read(1).hamiltonian.dtype.kind == "c"


def test_dataset_writer_manifest(tmp_path, embedded, spinless_record, spinful_record):
    writer = DatasetWriter(tmp_path / "set", embedded.basis, provenance={"test": True}, dtype="float32")
    writer.append_shard([spinless_record])
    writer.append_shard([spinful_record])
    manifest = read_manifest(tmp_path / "set")
    assert manifest["counts"]["structures"] == 2 and manifest["counts"]["shards"] == 2
    assert manifest["units"]["energy"] == "eV" and manifest["units"]["length"] == "angstrom"
    assert sorted(sum(manifest["split"].values(), [])) == sorted([spinless_record.label, spinful_record.label])
    dataset = ShardedDataset(tmp_path / "set")
    assert_records_equal(dataset.read(spinful_record.label), spinful_record)


def test_corrupt_shard_names_the_file(tmp_path, embedded, spinless_record):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not hdf5" * 100)
    with pytest.raises(CorruptShardError, match="garbage.h5"):
        len(ShardReader(garbage))
    path = write_shard(tmp_path / "cut.h5", [spinless_record], embedded.basis)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptShardError, match="truncated.h5"):
        ShardReader(truncated).read(0)


def test_inconsistent_index_is_reported(tmp_path, embedded, spinless_record):
    path = write_shard(tmp_path / "bad.h5", [spinless_record], embedded.basis)
    with h5py.File(path, "r+") as f:
        pointer = f["hamiltonian_ptr"][()]
        del f["hamiltonian_ptr"]
        f["hamiltonian_ptr"] = pointer[:-1]
    with pytest.raises(CorruptShardError, match="hamiltonian_ptr"):
        ShardReader(path).read(0)


def test_nan_block_names_structure_and_edge(tmp_path, embedded, spinless_record):
    record = dataclasses.replace(spinless_record, hamiltonian=spinless_record.hamiltonian.copy())
    record.hamiltonian[20] = np.nan
    with pytest.raises(NonFiniteBlockError, match=rf"{record.label}.*hamiltonian block of edge 1 "):
        write_shard(tmp_path / "nan.h5", [record], embedded.basis)
    assert not (tmp_path / "nan.h5").exists()


def test_missing_partner_block(tmp_path, embedded, spinless_record):
    lookup = spinless_record.edge_lookup()
    off_site = next(e for key, e in lookup.items() if key[0] != key[1])
    keep = np.ones(spinless_record.num_edges, dtype=bool)
    keep[off_site] = False
    with pytest.raises(MissingBlockError, match="has no Hermitian partner"):
        write_shard(tmp_path / "missing.h5", [spinless_record.select_edges(keep)], embedded.basis)
    onsite = lookup[(0, 0, 0, 0, 0)]
    keep = np.ones(spinless_record.num_edges, dtype=bool)
    keep[onsite] = False
    with pytest.raises(MissingBlockError, match="on-site block of atom 0"):
        spinless_record.select_edges(keep).validate()


def test_basis_mismatch_and_unknown_element(tmp_path, embedded, spinless_record):
    symbol = element_symbol(spinless_record.atomic_numbers[0])
    shells = embedded.basis[symbol].shells
    wrong = BasisSet({**embedded.basis.elements, symbol: ElementBasis(symbol, shells + (2,))})
    with pytest.raises(BasisMismatchError, match=rf"{spinless_record.label}.*orbitals but the basis"):
        write_shard(tmp_path / "mismatch.h5", [spinless_record], wrong)
    without = BasisSet({s: b for s, b in embedded.basis.elements.items() if s != symbol})
    with pytest.raises(UnknownElementError, match=rf"element {symbol} has no basis in this dataset"):
        write_shard(tmp_path / "unknown.h5", [spinless_record], without)


def test_atomic_write_keeps_existing_shard(tmp_path, embedded, spinless_record, monkeypatch):
    path = write_shard(tmp_path / "keep.h5", [spinless_record], embedded.basis)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    import nextham.io.shards as shards
    monkeypatch.setattr(shards.np, "concatenate", explode)
    with pytest.raises(KeyboardInterrupt):
        write_shard(path, [spinless_record], embedded.basis)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_nan_already_on_disk_is_caught_on_read(tmp_path, embedded, spinless_record):
    path = write_shard(tmp_path / "ok.h5", [spinless_record], embedded.basis)
    with h5py.File(path, "r+") as f:
        f["overlap"][3] = np.nan
    with pytest.raises(NonFiniteBlockError, match=rf"ok.h5.*{spinless_record.label}.*overlap holds NaN"):
        ShardReader(path).read(0)


def test_compressed_shard_stores_exact_delta(tmp_path, embedded, spinless_record, spinful_record):
    # rounded as storage_rounding does: every entry a multiple of 2^-20 eV, so H(T) − H(0) is exact
    records = [record.rounded(-20, -24) for record in (spinless_record, spinful_record)]
    path = write_shard(tmp_path / "z.h5", records, embedded.basis, dtype="float32", compression="gzip")
    with h5py.File(path, "r") as f:
        assert "hamiltonian_delta" in f and "hamiltonian" not in f
        assert f.attrs["format_version"] == 2
        assert all(f[name].compression == "gzip" for name in ("edge_index", "cell_shift", "hamiltonian_ptr", "overlap"))
        stored_delta = f["hamiltonian_delta"][: records[0].hamiltonian.size]
    np.testing.assert_array_equal(stored_delta, (records[0].hamiltonian - records[0].hamiltonian_0).ravel())
    reader = ShardReader(path)
    for position, record in enumerate(records):
        assert_records_equal(reader.read(position), record)


def test_delta_that_would_lose_bits_stores_the_hamiltonian(tmp_path, embedded, spinless_record):
    from nextham.io.shards import exact_delta

    # a small H beside a large H(0): H − H(0) keeps only H(0)'s precision, and H(0) + ΔH loses H's low bits
    hamiltonian = np.array([0.00012573022, 0.5], dtype=np.float32)
    assert exact_delta(hamiltonian, np.array([35.250828, 0.25], dtype=np.float32)) is None
    np.testing.assert_array_equal(exact_delta(np.array([0.75, 0.5], dtype=np.float32), np.array([0.5, 0.25], dtype=np.float32)),
                                  [0.25, 0.25])
    # the embedded set is stored unrounded: its full float32 mantissas leave some differences inexact
    path = write_shard(tmp_path / "h.h5", [spinless_record], embedded.basis, dtype="float32", compression="gzip")
    with h5py.File(path, "r") as f:
        assert "hamiltonian" in f and "hamiltonian_delta" not in f
    assert_records_equal(ShardReader(path).read(0), spinless_record)


def test_compact_dataset_keeps_every_value(tmp_path, embedded, spinless_record, spinful_record):
    from nextham.io.compact import compact_dataset

    writer = DatasetWriter(tmp_path / "set", embedded.basis, dtype="float32")
    writer.append_shard([spinless_record, spinful_record])
    manifest = read_manifest(tmp_path / "set")
    before = [ShardedDataset(tmp_path / "set").read(r.label) for r in (spinless_record, spinful_record)]
    result = compact_dataset(tmp_path / "set", progress=False)
    assert result["bytes_after"] < result["bytes_before"]
    assert read_manifest(tmp_path / "set") == manifest
    dataset = ShardedDataset(tmp_path / "set")
    for record in before:
        assert_records_equal(dataset.read(record.label), record)
    assert not [p for p in (tmp_path / "set").iterdir() if p.name.endswith(".compact")]
