"""E_F and gap on the k-mesh: what the 10 Å mesh alone gives, what the converged rule of
nextham.kspace.occupation gives (mesh, estimated error, time), and DeepH-dock's own answers on the
folders nextham writes, side by side; plus E_F against the mesh for the two metals (tetrahedron,
state counting and 25 meV Fermi–Dirac smearing) as a PNG.

    OMP_NUM_THREADS=2 NEXTHAM_DOCK=.dock/bin/dock python benchmarks/fermi_convergence.py

Ĥ of fcc Cu, fcc Al and diamond Si from the shipped model (`nextham predict`), and the embedded
Si-diamond-000 (its DFT H(T)). DeepH-dock's columns are left out where `dock` is not installed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk

from nextham.assets import embedded_dataset_path
from nextham.io import ShardedDataset
from nextham.io.deeph import read_deeph, write_deeph
from nextham.kspace import DEFAULT_SMEARING_EV, monkhorst_pack, occupation_summary
from nextham.kspace.tetrahedron import tetrahedron_fermi_level
from nextham.assets import shipped_checkpoint
from nextham.predict import Predictor
from common import machine

DOCK = os.environ.get("NEXTHAM_DOCK", shutil.which("dock"))
RESULTS = Path(__file__).resolve().parent / "results"
METALS = {"Cu": 3.61, "Al": 4.05}


def dock(folder: Path) -> dict:
    """DeepH-dock's E_F (counting and tetrahedron, its default mesh) and its band gap along K_PATH."""
    if DOCK is None:
        return {}
    answers = {}
    for method in ("counting", "tetrahedron"):
        (folder / "fermi_energy.json").unlink(missing_ok=True)
        subprocess.run([DOCK, "compute", "eigen", "find-fermi", str(folder), "--method", method], check=True,
                       capture_output=True)
        answers[method] = json.loads((folder / "fermi_energy.json").read_text())["fermi_energy_eV"]
    (folder / "fermi_energy.json").unlink()
    subprocess.run([DOCK, "compute", "eigen", "calc-band", str(folder), "-p", "1"], check=True, capture_output=True)
    import h5py

    with h5py.File(folder / "band.h5") as handle:
        answers["gap"] = float(np.asarray(handle["band_gap"]))
    return answers


def rows(work: Path):
    predictor = Predictor(shipped_checkpoint())
    embedded = ShardedDataset(embedded_dataset_path())
    cases = [(f"fcc {s} (a = {a})", predictor(bulk(s, "fcc", a=a), s).record, predictor.basis)
             for s, a in METALS.items()]
    cases.append(("Si diamond (a = 5.43)", predictor(bulk("Si", "diamond", a=5.43), "Si").record, predictor.basis))
    cases.append(("Si-diamond-000 (embedded DFT)", embedded.read("Si-diamond-000"), embedded.basis))
    for name, record, basis in cases:
        folder = work / "dft" / record.label
        write_deeph(folder, record, basis)
        record, _ = read_deeph(folder)  # what DeepH-dock reads; the DFT record keeps its SCF k-points
        coarse_kpoints = embedded.read(record.label).reference_kpoints if record.label in embedded.labels else \
            monkhorst_pack([int(np.ceil(10.0 / np.linalg.norm(a))) for a in record.lattice])
        coarse = record.occupation(kpoints_frac=coarse_kpoints)
        start = time.perf_counter()
        converged = record.occupation()
        seconds = time.perf_counter() - start
        yield name, len(coarse_kpoints), coarse, converged, seconds, dock(folder), record


def curves(records: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(records), figsize=(5 * len(records), 3.8), dpi=110)
    for axis, (name, record) in zip(np.atleast_1d(axes), records.items()):
        sizes = [4, 6, 9, 14, 21, 32, 48]
        found = {"tetrahedron": [], "counting": [], "Fermi–Dirac 25 meV": []}
        for n in sizes:
            energies = record.eigenvalues(monkhorst_pack((n, n, n)))
            found["tetrahedron"].append(tetrahedron_fermi_level(energies, (n, n, n), record.lattice,
                                                                record.num_electrons, record.spinful))
            flat = np.sort(energies.ravel())
            below = int(n ** 3 * record.num_electrons / 2)
            found["counting"].append(0.5 * (flat[below - 1] + flat[below]))
            found["Fermi–Dirac 25 meV"].append(occupation_summary(energies, record.num_electrons, record.spinful,
                                                                  smearing_ev=DEFAULT_SMEARING_EV)["fermi_energy"])
        dense = (72, 72, 72)
        reference = tetrahedron_fermi_level(record.eigenvalues(monkhorst_pack(dense)), dense, record.lattice,
                                            record.num_electrons, record.spinful)
        for label, values in found.items():
            axis.plot(range(len(sizes)), 1000 * np.abs(np.array(values) - reference) + 1e-3, marker="o", label=label)
        axis.axhline(5.0, color="0.5", ls="--", lw=0.8)
        axis.set_yscale("log")
        axis.set_ylim(0.1, 3000)
        axis.set_xticks(range(len(sizes)), [f"{n}³" for n in sizes])
        axis.set_xlabel("Γ-centred k-mesh")
        axis.set_ylabel("|E_F − E_F(tetrahedron, 72³)| (meV)")
        axis.set_title(f"{name}: shipped model's Ĥ (dashed: 5 meV)", fontsize=10)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def dock_fermi(answers: dict, method: str, converged: dict) -> str:
    """DeepH-dock's E_F of a metal (an insulator's is any point of its gap: not compared)."""
    return f"{answers[method]:.3f}" if method in answers and converged["metallic"] else "—"


def main():
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"{machine()}; threads: {torch.get_num_threads()}; DeepH-dock: {DOCK or 'not installed'}")
    header = (f"{'structure':<30}{'10 Å mesh':>22}{'converged':>12}{'mesh':>10}{'moved meV':>10}{'s':>6}"
              f"{'  band edges':<26}{'dock tetra':>11}{'dock count':>11}{'dock gap':>9}")
    print(header + "\n" + "-" * len(header))
    metals = {}
    with tempfile.TemporaryDirectory() as work:
        for name, kpoints, coarse, converged, seconds, answers, record in rows(Path(work)):
            key = "band_gap" if not converged["metallic"] else "fermi_energy"
            what = "gap" if key == "band_gap" else "E_F"
            edges = f"  VBM {converged['vbm_at']}, CBM {converged['cbm_at']}" if converged["vbm_at"] else "  metal"
            print(f"{name:<30}{what + f' {coarse[key]:.3f} ({kpoints} k)':>22}{converged[key]:>12.3f}"
                  f"{'x'.join(map(str, converged['kmesh'])):>10}{1000 * converged['fermi_error_ev']:>10.1f}"
                  f"{seconds:>6.1f}{edges:<26}{dock_fermi(answers, 'tetrahedron', converged):>11}"
                  f"{dock_fermi(answers, 'counting', converged):>11}{answers.get('gap', float('nan')):>9.3f}")
            if converged["metallic"]:
                metals[name] = record
    curves(metals, RESULTS / "fermi_convergence.png")
    print(f"E_F against the mesh: {RESULTS / 'fermi_convergence.png'}")


if __name__ == "__main__":
    main()
