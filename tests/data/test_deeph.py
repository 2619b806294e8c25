"""DeepH new and legacy formats: round trips of real records and errors on bad folders."""
import json

import h5py
import numpy as np
import pytest

from nextham.data import BasisMismatchError, MissingBlockError
from nextham.data.convert import convert
from nextham.data.deeph import (read_deeph, read_deeph_legacy, reorder_atoms, write_deeph, write_deeph_legacy)
from nextham.data.shards import ShardedDataset
from tests.data.test_shards import assert_records_equal

PHYSICAL = ("atomic_numbers", "positions", "lattice", "orbital_counts", "edge_index", "cell_shifts",
            "hamiltonian_0", "hamiltonian", "overlap", "spinful")


def assert_same_physics(read, original):
    """Everything both formats carry (the DFT reference eigenvalues and metadata are nextham-only)."""
    order = np.lexsort(np.column_stack([original.edge_index, original.cell_shifts]).T[::-1])
    original = original.select_edges(order)
    order = np.lexsort(np.column_stack([read.edge_index, read.cell_shifts]).T[::-1])
    read = read.select_edges(order)
    for name in PHYSICAL:
        left, right = getattr(read, name), getattr(original, name)
        if isinstance(left, np.ndarray) and left.dtype.kind in "fc":
            np.testing.assert_allclose(left, right, rtol=1e-6, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(left, right, err_msg=name)
    assert read.fermi_energy == pytest.approx(original.fermi_energy)


@pytest.mark.parametrize("which", ["spinless_record", "spinful_record"])
def test_new_format_round_trip(tmp_path, embedded, which, request):
    record = request.getfixturevalue(which)
    write_deeph(tmp_path / "dft" / record.label, record, embedded.basis)
    info = json.loads((tmp_path / "dft" / record.label / "info.json").read_text())
    assert info["spinful"] == record.spinful and info["orbits_quantity"] == int(record.orbital_counts.sum())
    with h5py.File(tmp_path / "dft" / record.label / "hamiltonian.h5") as f:
        assert f["entries"].dtype == (np.complex128 if record.spinful else np.float64)
        assert f["atom_pairs"].shape == (record.num_edges, 5)
    read, basis = read_deeph(tmp_path / "dft" / record.label)
    assert_same_physics(read, record)
    assert basis.to_dict().keys() <= embedded.basis.to_dict().keys()


@pytest.mark.parametrize("which", ["spinless_record", "spinful_record"])
def test_legacy_format_round_trip(tmp_path, embedded, which, request):
    record = request.getfixturevalue(which)
    write_deeph_legacy(tmp_path / record.label, record, embedded.basis)
    with h5py.File(tmp_path / record.label / "hamiltonians.h5") as f:
        assert "[0, 0, 0, 1, 1]" in f  # 1-based atoms
    read, _ = read_deeph_legacy(tmp_path / record.label)
    assert_same_physics(read, record)


def test_legacy_uses_openmx_p_order(tmp_path, embedded, spinless_record):
    write_deeph_legacy(tmp_path / "s", spinless_record, embedded.basis)
    canonical = spinless_record.blocks("overlap")[spinless_record.edge_lookup()[(0, 1, 0, 0, 0)]]
    with h5py.File(tmp_path / "s" / "overlaps.h5") as f:
        legacy = f["[0, 0, 0, 1, 2]"][()]
    # s p shells: canonical p = (y, z, x) in rows 1..3, OpenMX p = (x, y, z)
    assert abs(canonical[1:4, 0]).max() > 0.05
    np.testing.assert_allclose(legacy[1:4, 0], canonical[[3, 1, 2], 0], atol=1e-7)


def test_reorder_atoms_keeps_the_physics(spinless_record):
    flipped = reorder_atoms(spinless_record, [1, 0])
    kpoints = spinless_record.reference_kpoints[:3]
    np.testing.assert_allclose(flipped.eigenvalues(kpoints), spinless_record.eigenvalues(kpoints), atol=1e-9)


def test_mismatched_atom_pairs_and_shapes(tmp_path, embedded, spinless_record):
    folder = tmp_path / "dft" / spinless_record.label
    write_deeph(folder, spinless_record, embedded.basis)
    with h5py.File(folder / "hamiltonian.h5", "r+") as f:
        pairs = f["atom_pairs"][()]
        pairs[0, 0] += 7
        f["atom_pairs"][...] = pairs
    with pytest.raises(MissingBlockError, match="atom_pairs differ"):
        read_deeph(folder)
    write_deeph(folder, spinless_record, embedded.basis)
    info = json.loads((folder / "info.json").read_text())
    first = next(iter(info["elements_orbital_map"]))
    info["elements_orbital_map"][first] = info["elements_orbital_map"][first] + [2]
    (folder / "info.json").write_text(json.dumps(info))
    with pytest.raises(BasisMismatchError, match="the basis in info.json implies"):
        read_deeph(folder)
    write_deeph(folder, spinless_record, embedded.basis)
    (folder / "hamiltonian.h5").unlink()
    with pytest.raises(MissingBlockError, match="hamiltonian.h5"):
        read_deeph(folder)


def test_convert_whole_dataset_round_trip(tmp_path, embedded):
    count = convert(embedded.root, tmp_path / "deeph", "shards", "deeph")
    assert count == len(embedded)
    back = convert(tmp_path / "deeph", tmp_path / "shards", "deeph", "shards")
    assert back == len(embedded)
    converted = ShardedDataset(tmp_path / "shards")
    for label in embedded.labels[:5] + [r.label for r in embedded if r.spinful][:1]:
        assert_same_physics(converted.read(label), embedded.read(label))
