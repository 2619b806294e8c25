"""DeepH-dock itself on every folder nextham exports (runs where its `dock` CLI is installed; it needs
Python ≥ 3.13, so it is skipped in the project's own environment): `data convert --to deeph`,
`predict --structure` and `predict --config` write folders that dock's band, Fermi, DOS and dataset
commands read as they are; dock's bands equal ours, its band gaps are the ones we report (ours from
the mesh, the path and a search around both, so never larger), and its Fermi levels of metals agree
with ours to 10 meV."""
import json
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from nextham.cli.main import main
from nextham.io.convert import convert
from nextham.io.deeph import read_deeph
from nextham.kspace.paths import describe_kpoint, high_symmetry_segments

DOCK = os.environ.get("NEXTHAM_DOCK", shutil.which("dock"))
pytestmark = [pytest.mark.slow, pytest.mark.skipif(DOCK is None, reason="DeepH-dock's `dock` CLI is not installed "
                                                                       "(set NEXTHAM_DOCK to its path)")]


def dock(*arguments):
    done = subprocess.run([DOCK, *map(str, arguments)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def dock_bands(folder):
    """dock's calc-band on ``folder``: k-points (K, 3), bands (K, n) in eV (unshifted), dock's gap."""
    dock("compute", "eigen", "calc-band", folder, "-p", "1")
    with h5py.File(folder / "band.h5") as handle:
        kpoints = np.asarray(handle["kpoints_frac_list"])
        bands = np.asarray(handle["band_data"]).T + float(np.asarray(handle["fermi_energy_before_shift_eV"]))
        return kpoints, np.sort(bands, axis=1), float(np.asarray(handle["band_gap"]))


def dock_fermi_level(folder, method):
    for cached in ("fermi_energy.json", "eigval.h5"):
        (folder / cached).unlink(missing_ok=True)
    dock("compute", "eigen", "find-fermi", folder, "--method", method)
    return json.loads((folder / "fermi_energy.json").read_text())["fermi_energy_eV"]


def test_dock_calc_band_reads_the_exported_folder_as_it_is(tmp_path, predictor):
    result = predictor(bulk("Si", "diamond", a=5.50), "Si-strained")
    folder = result.to_deeph(tmp_path / "Si")
    kpoints, bands, _ = dock_bands(folder)
    np.testing.assert_allclose(bands, result.record.eigenvalues(kpoints), atol=1e-6)


def test_converted_embedded_set_gives_dock_the_gaps_we_report_with_their_band_edges(tmp_path, embedded):
    """Every embedded structure through `data convert --to deeph`: dock's dense-solver bands on K_PATH
    are ours, its path gap is ours where our band edges lie on the path, and ours is never larger."""
    assert convert(embedded.root, tmp_path / "deeph", "shards", "deeph", spinful=True) == len(embedded)
    dock("analyze", "dataset", "features", tmp_path / "deeph", "-p", "1")  # <root>/dft/<label>/, one kind
    for record in embedded:
        folder = tmp_path / "deeph" / "dft" / record.label
        kpoints, bands, dock_gap = dock_bands(folder)
        spinor = record.as_spinful()
        np.testing.assert_allclose(bands, spinor.eigenvalues(kpoints), atol=1e-6, err_msg=record.label)
        occupation = record.occupation()
        assert occupation["band_gap"] <= dock_gap + 1e-6, record.label
        occupied = int(record.num_electrons)  # spinor bands hold one electron each
        vbm_k, cbm_k = kpoints[np.argmax(bands[:, occupied - 1])], kpoints[np.argmin(bands[:, occupied])]
        segments = high_symmetry_segments(record.lattice)
        if occupation["vbm_at"] != "off the path" and occupation["cbm_at"] != "off the path":
            # on the path the only difference is dock's 30 points per segment against our search
            assert dock_gap - occupation["band_gap"] < 0.02, record.label
            assert describe_kpoint(vbm_k, segments) == occupation["vbm_at"], record.label
            assert describe_kpoint(cbm_k, segments) == occupation["cbm_at"], record.label
    si = embedded.read("Si-diamond-000").occupation()
    assert (si["vbm_at"], si["cbm_at"], si["direct_gap"]) == ("Γ", "Γ–X", False)


@pytest.mark.parametrize("element", ["Al", "Cu"])
def test_predicted_metals_have_dock_fermi_levels_and_the_folders_run_in_every_dock_command(tmp_path, element):
    """`predict --structure` with the shipped model: <out>/dft/<label>/ for dock's dataset tools, bands
    and DOS run on it, and dock's tetrahedron E_F (its default mesh, dk = 0.1 Å⁻¹) is ours to 10 meV."""
    write(tmp_path / f"{element}.cif", bulk(element, "fcc", a={"Al": 4.05, "Cu": 3.61}[element]))
    assert main(["predict", "--structure", str(tmp_path / f"{element}.cif"), "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["structures"][0]
    folder = tmp_path / "out" / "dft" / element
    assert summary["metallic"] and summary["fermi_method"] == "tetrahedron"
    assert summary["fermi_energy_ev"] == pytest.approx(dock_fermi_level(folder, "tetrahedron"), abs=0.010)
    kpoints, bands, _ = dock_bands(folder)
    record, _ = read_deeph(folder)
    np.testing.assert_allclose(bands, record.eigenvalues(kpoints), atol=1e-6)
    dock("compute", "eigen", "calc-dos", folder)
    assert (folder / "dos.h5").exists()
    dock("analyze", "dataset", "features", tmp_path / "out", "-p", "1")


def test_dataset_predictions_run_in_dock_bands_and_error_analysis(tmp_path, embedded, old_checkpoint):
    """`predict --config`: hamiltonian.h5 is Ĥ (bands, E_F, DOS read it) and hamiltonian_pred.h5 the
    same file for `dock analyze error` against the converted DFT set."""
    out = tmp_path / "pred"
    assert main(["predict", "--config", "fit", "--ckpt", str(old_checkpoint), "--split", "val", "--out", str(out)]) == 0
    convert(embedded.root, tmp_path / "dft_set", "shards", "deeph")
    for folder in sorted((out / "deeph" / "dft").iterdir()):
        predicted, _ = read_deeph(folder)
        kpoints, bands, _ = dock_bands(folder)
        np.testing.assert_allclose(bands, predicted.eigenvalues(kpoints), atol=1e-6, err_msg=folder.name)
    stdout = dock("analyze", "error", "entries", out / "deeph" / "dft", "-b", tmp_path / "dft_set" / "dft")
    assert "mean absolute error" in stdout
