"""Predicting structures nobody has computed: the engine rebuilds the dataset's own H(0) and S, the
ensemble gives the Ĥ the test report gives, the export reads back; bad input is named before any DFT."""
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from nextham.cli.main import main
from nextham.errors import BasisMismatchError, DataError, UnknownElementError
from nextham.io.deeph import read_deeph
from nextham.io.shards import ShardedDataset
from tests.predict.conftest import FIXTURE


def _atoms(record):
    symbols = [int(z) for z in record.atomic_numbers]
    return Atoms(numbers=symbols, positions=record.positions, cell=record.lattice, pbc=True)


@pytest.mark.slow
def test_a_poscar_of_an_embedded_structure_gives_its_blocks_and_the_test_prediction(tmp_path, embedded, old_checkpoint):
    label = "AlP-zincblende-001"  # validation split; an Al compound, computed with its entry's longer range
    truth = embedded.read(label)
    poscar = tmp_path / "AlP.vasp"
    write(poscar, _atoms(truth), format="vasp", direct=True)
    out = tmp_path / "out"
    assert main(["predict", "--ckpt", str(old_checkpoint), "--structure", str(poscar), "--out", str(out)]) == 0
    folder = out / "dft" / "AlP"  # DeepH-dock's dataset layout, <root>/dft/<label>/
    assert {"hamiltonian.h5", "hamiltonian_pred.h5", "hamiltonian_0.h5", "overlap.h5", "POSCAR", "info.json",
            "bands.png", "summary.json", "K_PATH"} <= {p.name for p in folder.iterdir()}
    # DeepH-dock's K_PATH: "N k_start k_end label_start label_end" per segment, Γ among the labels
    segments = [line.split() for line in (folder / "K_PATH").read_text().splitlines()]
    assert all(len(fields) == 9 and int(fields[0]) > 1 for fields in segments)
    gamma = [fields[1:4] if fields[7] == "G" else fields[4:7] for fields in segments if "G" in fields[7:]]
    assert gamma and all(float(x) == 0.0 for point in gamma for x in point)
    predicted, _ = read_deeph(folder)  # hamiltonian.h5 holds Ĥ: what DeepH-dock's calc-band reads
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["electrons"] == truth.num_electrons == 8 and summary["band_gap_ev"] > 0
    # the band edges are named and E_F's k-mesh and estimated error recorded
    assert summary["vbm_at"] and summary["cbm_at"] and len(summary["fermi_kmesh"]) == 3
    assert summary["fermi_method"] == "mid-gap" and summary["fermi_error_ev"] < 0.005
    assert set(summary["timings_s"]) == {"h0_and_overlap_s", "graph_s", "inference_s", "eigensolver_s", "export_s",
                                         "bands_s", "dos_s", "total_s"}
    expected = np.load(FIXTURE / "prediction_val.npz")[label]  # Ĥ of this checkpoint in `nextham test`
    expected_blocks = truth.replace(hamiltonian=expected).blocks("hamiltonian")
    lookup = predicted.edge_lookup()
    assert len(lookup) >= truth.num_edges
    for e, key in enumerate(truth.edge_lookup()):
        mine = lookup[key]
        np.testing.assert_allclose(predicted.blocks("overlap")[mine], truth.blocks("overlap")[e], atol=1e-6)
        np.testing.assert_allclose(predicted.blocks("hamiltonian_0")[mine], truth.blocks("hamiltonian_0")[e], atol=2e-5)
        np.testing.assert_allclose(predicted.blocks("hamiltonian")[mine], expected_blocks[e], atol=2e-5)
    # a rerun over the same output resumes: nothing recomputed, nothing duplicated
    assert main(["predict", "--ckpt", str(old_checkpoint), "--structure", str(poscar), "--out", str(out)]) == 0
    assert ShardedDataset(out / "shards").labels == ["AlP"]


def test_bad_structures_are_named_before_any_dft(tmp_path, predictor, monkeypatch, capsys):
    monkeypatch.setattr(predictor, "memory_bytes", 16 * 1024 ** 3)  # a 16 GB budget, whatever this machine has
    def refused(atoms, error, match):
        with pytest.raises(error, match=match):
            predictor.spec(atoms, "bad", tmp_path / "bad.cif")

    refused(Atoms("Si2", positions=[[0, 0, 0], [0, 0, 2.3]]), DataError, "not a periodic crystal")
    overlapping = bulk("Si", "diamond", a=5.43)
    overlapping.positions[1] = overlapping.positions[0] + [0.1, 0.0, 0.0]
    refused(overlapping, DataError, r"atoms 0 \(Si\) and 1 \(Si\) are 0.100 Å apart")
    refused(bulk("Ce", "fcc", a=5.16), UnknownElementError, r"Ce is new to this checkpoint .* does not fit")
    # Mn's basis fits the layout, but the engine's band check never ran for it: no rule, no prediction
    refused(bulk("Mn", "fcc", a=3.6), UnknownElementError, r"element Mn has no engine rule.*--only Mn")
    refused(Atoms("CsSi", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=np.eye(3) * 4.1, pbc=True),
            BasisMismatchError, "Cs carry the spin–orbit basis")
    # 16,000 atoms: 24 GB for the real-space builder (14 arrays of its 200M-point mesh, the pair blocks)
    huge = bulk("Si", "diamond", a=5.43).repeat((20, 20, 20))
    refused(huge, DataError, "more than the budget")
    (tmp_path / "garbage.cif").write_text("this is not a crystal\n")
    assert main(["predict", "--ckpt", str(predictor.checkpoints[0]), "--structure", str(tmp_path / "garbage.cif"),
                 "--out", str(tmp_path / "out")]) == 2
    # a CIF ASE parses into zero structures, and a folder with nothing to read, are errors too, not an empty table
    (tmp_path / "no_atoms.cif").write_text("data_x\n_cell_length_a 3.0\n")
    (tmp_path / "empty").mkdir()
    for path, message in ((tmp_path / "no_atoms.cif", "ASE reads no structure from this file"),
                          (tmp_path / "empty", "the folder holds no structure file")):
        capsys.readouterr()
        assert main(["predict", "--ckpt", str(predictor.checkpoints[0]), "--structure", str(path),
                     "--out", str(tmp_path / "out2")]) == 2
        captured = capsys.readouterr()
        (line,) = captured.err.strip().splitlines()  # one line
        assert line.startswith(f"nextham: error: [file {path}] {message}")
        assert captured.out == ""  # no empty table, no trailer


def test_an_element_the_model_never_saw_is_predicted_when_its_basis_fits(old_checkpoint):
    """The fixture was trained on B, C, Al, Si, P, Ge, As, Sb, Cs, I; tin's basis (1s1p) fits its s s p d
    layout, so α-Sn is predicted, reported as an unseen element, with a real correction on the pairs
    the members predict and the rest kept at H(0)."""
    from nextham.predict import Predictor

    predictor = Predictor(old_checkpoint)
    assert "Sn" not in predictor.trained_elements
    result = predictor(bulk("Sn", "diamond", a=6.489), "alpha-Sn")
    assert result.summary()["unseen_elements"] == ["Sn"]
    assert set(result.basis.elements) == {"Sn"} and result.basis["Sn"].shells == predictor.basis["Sn"].shells
    record = result.record
    owner = np.array(record.metadata["member_of_edge"])
    difference = [np.abs(h - h0).max() for h, h0 in zip(record.blocks("hamiltonian"), record.blocks("hamiltonian_0"))]
    assert max(difference[e] for e in np.flatnonzero(owner >= 0)) > 1e-3  # the members acted
    assert all(difference[e] == 0.0 for e in np.flatnonzero(owner < 0))
    assert record.hermiticity_error() < 1e-12  # H_ij(R) = H_ji(−R)†
    assert np.isfinite(result.band_gap)


def test_a_supercell_predicts_the_tiled_primitive_prediction_in_pieces(embedded, old_checkpoint):
    """The model is local and translation invariant: Ĥ of the 2×2×2 supercell (given H(0) and S tiled
    exactly, no DFT), run in pieces of 5 atoms, is the primitive cell's Ĥ tiled."""
    from nextham.predict import Predictor

    primitive = embedded.read("SiC-zincblende-002")
    predictor = Predictor(old_checkpoint, chunk_atoms=5)
    alone = predictor.correct(primitive)
    tiled = predictor.correct(primitive.supercell((2, 2, 2)))
    assert tiled.record.metadata["chunk_atoms"] == 5 and tiled.record.num_atoms == 16
    expected = alone.record.supercell((2, 2, 2)).hamiltonian
    np.testing.assert_allclose(tiled.record.hamiltonian, expected, atol=2e-6)
    assert np.abs(alone.record.hamiltonian - primitive.hamiltonian_0).max() > 5e-3  # ΔĤ is not zero
    assert tiled.band_gap == pytest.approx(alone.band_gap, abs=0.05)  # denser k-mesh of the primitive cell


def test_generate_and_predict_give_a_mixed_cell_the_same_engine_settings(predictor, monkeypatch):
    """ZnS beside Si: the strictest rule of the three elements, resolved alike by the generator (for a
    recipe's structure) and by the Predictor (for a structure file), whose card carries the table."""
    from nextham.dft.engine_rules import packaged_rules
    from nextham.dft.generate import engine_settings_for
    from nextham.structures import StructureSpec
    from nextham.dft.engine_settings import PySCFSettings

    rules = {**packaged_rules(), "Zn": {"ke_cutoff_hartree": 160.0, "pair_cutoff_angstrom": 12.0}}
    engine = {**predictor.engine_settings, "element_rules": rules}
    monkeypatch.setattr(predictor, "engine_settings", engine)
    atoms = bulk("ZnS", "zincblende", a=5.41) + bulk("Si", "diamond", a=5.43)
    spec = StructureSpec(label="ZnS+Si", symbols=atoms.get_chemical_symbols(), positions=atoms.positions,
                         lattice=atoms.cell[:])
    generated = PySCFSettings.from_dict(engine_settings_for(spec, engine))
    predicted = predictor.settings_for(sorted(set(spec.symbols)))
    assert generated.to_dict() == predicted.to_dict()
    assert predicted.ke_cutoff_hartree == 160.0 and predicted.pair_cutoff_angstrom == 12.0


def test_the_terminal_says_which_elements_no_training_structure_held(tmp_path, old_checkpoint, capsys):
    write(tmp_path / "Sn.cif", bulk("Sn", "diamond", a=6.489))
    assert main(["predict", "--ckpt", str(old_checkpoint), "--structure", str(tmp_path / "Sn.cif"),
                 "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "Sn is outside the model's domain (Sn in no training structure)" in captured.err
    assert "OUT" in captured.out.splitlines()[2]  # the table's row says so too
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["structures"][0]
    assert summary["in_domain"] is False and summary["domain_reason"] == "Sn in no training structure"
    # every stage is timed, the band path and the DOS included, and the total is their sum
    timings = summary["timings_s"]
    stages = ("h0_and_overlap_s", "graph_s", "inference_s", "eigensolver_s", "export_s", "bands_s", "dos_s")
    assert set(timings) == {*stages, "total_s"} and min(timings[k] for k in stages) > 0
    assert timings["total_s"] == pytest.approx(sum(timings[k] for k in stages))
    assert "total s" in captured.out.splitlines()[0]
    assert "Sn" in ShardedDataset(tmp_path / "out" / "shards").basis  # the admitted element's basis, from the result


def test_when_every_structure_fails_the_error_is_said_once_and_no_empty_table_follows(tmp_path, old_checkpoint, capsys):
    write(tmp_path / "Mn.cif", bulk("Mn", "fcc", a=3.6))  # no engine rule for Mn
    assert main(["predict", "--ckpt", str(old_checkpoint), "--structure", str(tmp_path / "Mn.cif"),
                 "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("nextham: error:") == 1 and "element Mn has no engine rule" in captured.err
    assert captured.out == ""
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["structures"] == []


def test_the_sparse_solver_gives_the_dense_gap_bands_near_the_edges_and_dos(embedded, old_checkpoint):
    """The same Ĥ solved both ways (no DFT: H(0) and S of a stored 16-atom supercell): the gap and E_F at
    Γ, where the sparse path takes them, to 1e-6 eV; every band within 1 eV of the band edges on the
    path; the DOS to 1e-6 of its peak."""
    from nextham.kspace import occupation_summary
    from nextham.predict import Predictor

    record = embedded.read("SiC-zincblende-002").supercell((2, 2, 2))
    dense = Predictor(old_checkpoint, solver="dense").correct(record)
    sparse = Predictor(old_checkpoint, solver="sparse").correct(record)
    assert dense.solver == "dense" and sparse.solver == "sparse" and sparse.summary()["solver"] == "sparse"
    at_gamma = occupation_summary(dense.record.eigenvalues(np.zeros((1, 3))), record.num_electrons, False)
    assert sparse.band_gap == pytest.approx(at_gamma["band_gap"], abs=1e-6) and sparse.band_gap > 1.0
    assert sparse.fermi_energy == pytest.approx(at_gamma["fermi_energy"], abs=1e-6)
    path = sparse.atoms.cell.bandpath(npoints=12)
    near, full = sparse.bands(path)["energies"], dense.bands(path)["energies"]
    low, high = sparse.occupation["vbm"] - sparse.window_ev, sparse.occupation["cbm"] + sparse.window_ev
    for found, every in zip(near, full):
        np.testing.assert_allclose(found[np.isfinite(found)], every[(every >= low) & (every <= high)], atol=1e-6)
    mesh = [2, 2, 2]
    energies = np.linspace(low - 5.0, high + 5.0, 400)
    expected = dense.dos(mesh, energies=energies)["dos"]
    assert np.abs(sparse.dos(mesh, energies=energies)["dos"] - expected).max() < 1e-6 * expected.max()


def test_a_cell_too_large_to_factorise_gets_its_gap_from_the_dos_and_a_figure_without_bands(
        embedded, old_checkpoint, monkeypatch, tmp_path):
    """Above FACTORISE_MAX_ROWS (lowered here to take a 16-atom cell): the gap from the KPM DOS within
    0.15 eV of the dense one at Γ, named so in summary.json and in the figure, and no band path."""
    import json

    import nextham.kspace.sparse as sparse_module
    from nextham.kspace import occupation_summary
    from nextham.predict import Predictor

    monkeypatch.setattr(sparse_module, "FACTORISE_MAX_ROWS", 0)
    record = embedded.read("SiC-zincblende-002").supercell((2, 2, 2))
    result = Predictor(old_checkpoint, solver="sparse").correct(record)
    at_gamma = occupation_summary(result.record.eigenvalues(np.zeros((1, 3))), record.num_electrons, False)
    summary = json.loads(json.dumps(result.summary()))
    assert summary["gap_method"].startswith("kpm dos") and "conjugate gradients" in summary["fermi_method"]
    assert abs(result.band_gap - at_gamma["band_gap"]) < 0.15
    path = result.atoms.cell.bandpath(npoints=4)
    assert result.bands(path)["energies"].shape == (len(path.kpts), 0)
    # the figure's DOS at Γ only (the default mesh of this small cell would be 125 k-points of CG moments)
    monkeypatch.setattr(result, "dos", lambda: type(result).dos(result, mesh=[1, 1, 1]))
    assert result.plot(tmp_path / "bands.png").stat().st_size > 0
