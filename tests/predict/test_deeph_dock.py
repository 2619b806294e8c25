"""DeepH-dock itself on an exported prediction (runs where its `dock` CLI is installed; it needs
Python ≥ 3.13, so it is skipped in the project's own environment): `dock compute eigen calc-band`
reads the folder as written (hamiltonian.h5 = Ĥ, K_PATH) and finds our eigenvalues."""
import os
import shutil
import subprocess

import numpy as np
import pytest
from ase.build import bulk

DOCK = os.environ.get("NEXTHAM_DOCK", shutil.which("dock"))


@pytest.mark.skipif(DOCK is None, reason="DeepH-dock's `dock` CLI is not installed (set NEXTHAM_DOCK to its path)")
def test_dock_calc_band_reads_the_exported_folder_as_it_is(tmp_path, predictor):
    import h5py

    result = predictor(bulk("Si", "diamond", a=5.50), "Si-strained")
    folder = result.to_deeph(tmp_path / "Si")
    subprocess.run([DOCK, "compute", "eigen", "calc-band", str(folder), "-p", "1"], check=True, capture_output=True)
    with h5py.File(folder / "band.h5") as handle:
        kpoints = np.asarray(handle["kpoints_frac_list"])
        bands = np.asarray(handle["band_data"]) + float(np.asarray(handle["fermi_energy_before_shift_eV"]))
    ours = np.sort(result.record.eigenvalues(kpoints), axis=1)
    assert bands.shape == ours.T.shape
    np.testing.assert_allclose(np.sort(bands.T, axis=1), ours, atol=1e-6)
