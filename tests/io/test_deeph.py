"""DeepH new and legacy formats: round trips of real records and errors on bad folders."""
import json

import h5py
import numpy as np
import pytest

from nextham.errors import BasisMismatchError, MissingBlockError
from nextham.io.convert import convert
from nextham.io.deeph import (read_deeph, read_deeph_legacy, write_deeph, write_deeph_legacy)
from nextham.io.shards import ShardedDataset

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


def test_info_json_carries_occupation_and_a_fermi_level_dock_counts_right(tmp_path, embedded):
    for label in ("Ge-diamond-001", "CsI-cesium_chloride-000"):  # smallest gap; spin–orbit
        record = embedded.read(label)
        write_deeph(tmp_path / label, record, embedded.basis)
        info = json.loads((tmp_path / label / "info.json").read_text())
        assert info["occupation"] == int(record.num_electrons) and info["spinful"] == record.spinful
        read, _ = read_deeph(tmp_path / label)
        assert read.num_electrons == record.num_electrons
        # DeepH-dock: occupied states per k = occupation / (2 − spinful) lie below E_F, the rest above
        per_band = 1 if read.spinful else 2
        energies = read.eigenvalues(read.reference_kpoints if len(read.reference_kpoints) else [[0, 0, 0]])
        assert ((energies < info["fermi_energy_eV"]).sum(axis=1) == info["occupation"] // per_band).all()


def _without_h0(tmp_path, record, basis, fermi=None):
    folder = tmp_path / "dft" / record.label
    write_deeph(folder, record, basis)
    (folder / "hamiltonian_0.h5").unlink()
    info = json.loads((folder / "info.json").read_text())
    info["fermi_energy_eV"] = fermi  # as DeepH-dock writes it when it does not know
    (folder / "info.json").write_text(json.dumps(info))
    return folder


def test_deeph_data_without_h0_imports_for_evaluation_and_training_says_what_is_missing(tmp_path, embedded):
    from nextham.errors import DataError
    from nextham.data.datamodule import HamiltonianDataModule
    from nextham.io.dataset_report import format_summary, inspect_dataset

    records = [embedded.read(label) for label in ("Si-diamond-000", "CsI-cesium_chloride-000")]
    for record in records:
        _without_h0(tmp_path / "in", record, embedded.basis)
    read, _ = read_deeph(tmp_path / "in" / "dft" / records[0].label)
    assert read.hamiltonian_0 is None and np.isnan(read.fermi_energy)
    assert convert(tmp_path / "in", tmp_path / "shards", "deeph", "shards") == 2
    dataset = ShardedDataset(tmp_path / "shards")
    assert not dataset.has_hamiltonian_0
    for record in records:
        imported = dataset.read(record.label)
        assert imported.hamiltonian_0 is None
        np.testing.assert_array_equal(imported.hamiltonian, record.hamiltonian)
        # the null Fermi level is filled from the electron count as the generator fills it (mid-gap of the
        # converged band edges), and holds the DFT code's occupied states below it and the empty ones above
        assert imported.fermi_energy == pytest.approx(record.occupation()["fermi_energy"], abs=1e-9)
        below = (record.reference_eigenvalues < imported.fermi_energy).sum(axis=1) * (1 if record.spinful else 2)
        assert (below == record.num_electrons).all()
    summary = inspect_dataset(tmp_path / "shards")
    text = format_summary(summary)
    # no reference eigenvalues: say so, instead of a "max error 0.00e+00 meV ... PASS" that cannot fail
    assert "no H(0) stored" in text and "eigenvalues: nothing to check" in text and "0.00e+00" not in text
    assert summary["eigenvalues_checked"] == 0
    with pytest.raises(DataError, match="holds no H\\(0\\).*nextham data generate"):
        HamiltonianDataModule(root=str(tmp_path / "shards"))
    # and back out to DeepH without inventing an H(0)
    assert convert(tmp_path / "shards", tmp_path / "out", "shards", "deeph") == 2
    assert not (tmp_path / "out" / "dft" / records[0].label / "hamiltonian_0.h5").exists()


def test_a_conversion_that_finds_nothing_is_an_error(tmp_path):
    from nextham.errors import DataError

    (tmp_path / "empty" / "dft").mkdir(parents=True)
    with pytest.raises(DataError, match="found no deeph structure"):
        convert(tmp_path / "empty", tmp_path / "out", "deeph", "shards")
    with pytest.raises(DataError, match="no such folder"):
        convert(tmp_path / "missing", tmp_path / "out", "deeph-legacy", "shards")


def test_each_structure_is_exported_as_what_it_is(tmp_path, embedded):
    convert(embedded.root, tmp_path / "own", "shards", "deeph")
    convert(embedded.root, tmp_path / "all", "shards", "deeph", spinful=True)
    for record in embedded:
        own = json.loads((tmp_path / "own" / "dft" / record.label / "info.json").read_text())
        assert own["spinful"] == record.spinful
        with h5py.File(tmp_path / "own" / "dft" / record.label / "hamiltonian.h5") as f:
            assert (f["entries"].dtype.kind == "c") == record.spinful
            assert f["chunk_shapes"][0].tolist() == [int(record.orbital_counts[record.edge_index[0, 0]]) * (
                2 if record.spinful else 1), int(record.orbital_counts[record.edge_index[0, 1]]) * (2 if record.spinful else 1)]
        assert json.loads((tmp_path / "all" / "dft" / record.label / "info.json").read_text())["spinful"]
    spinless = next(r for r in embedded if not r.spinful)
    doubled, _ = read_deeph(tmp_path / "all" / "dft" / spinless.label)
    np.testing.assert_allclose(doubled.eigenvalues([[0.25, 0, 0]])[0, ::2],
                               spinless.eigenvalues([[0.25, 0, 0]])[0], atol=1e-6)
