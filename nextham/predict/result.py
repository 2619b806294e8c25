"""A predicted Hamiltonian in the hands of its user: Ĥ(R), H(0)(R), S(R) blocks, bands along ASE's
automatic high-symmetry path, the DOS, a band + DOS figure with E_F and the gap, a JSON summary, and
a DeepH-pack folder that DeepH-dock reads as it is (``hamiltonian.h5`` holds Ĥ)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..conventions import BasisSet
from ..kspace import monkhorst_pack
from ..record import HamiltonianRecord


@dataclass
class PredictedHamiltonian:
    """``record.hamiltonian`` = Ĥ, ``record.hamiltonian_0`` = H(0), ``record.overlap`` = S (eV, Å, the
    canonical orbital order; :meth:`HamiltonianRecord.blocks` gives them per pair (i, j, R))."""

    record: HamiltonianRecord
    basis: BasisSet
    atoms: object
    occupation: dict
    timings: dict = field(default_factory=dict)
    solver: str = "dense"  # how E_F, bands and DOS are solved: dense eigensolves or kspace.sparse
    window_ev: float = 1.0  # the sparse solver's bands: eigenvalues within this of E_F (of the band edges)

    @property
    def label(self) -> str:
        return self.record.label

    @property
    def fermi_energy(self) -> float:
        return float(self.occupation["fermi_energy"])

    @property
    def band_gap(self) -> float:
        return float(self.occupation["band_gap"])

    def blocks(self, kind: str = "hamiltonian") -> list:
        """Per-pair blocks of ``hamiltonian`` (Ĥ), ``hamiltonian_0`` or ``overlap``."""
        return self.record.blocks(kind)

    def bands(self, path=None, npoints: int | None = None, kind: str = "hamiltonian") -> dict:
        """Eigenvalues (eV) along ``path``: an ASE path string ("GXWKGLUWLK,UX") or BandPath; default
        ASE's automatic high-symmetry path of the cell. ``npoints``: default 120, fewer for cells of
        more than 1,000 orbitals, whose dense eigensolves cost n³ each (a supercell's zone is
        smaller too; 12 at the least). Returns kpoints (fractional), x, energies (K, n), special x and
        labels, and E_F."""
        if npoints is None:
            orbitals = int(np.sum(self.record.orbital_counts))
            npoints = max(12, min(120, int(120 * (1000 / orbitals) ** 2)))
        bandpath = self.atoms.cell.bandpath(path, npoints=npoints) if not hasattr(path, "kpts") else path
        x, special_x, labels = bandpath.get_linear_kpoint_axis()
        if self.solver == "sparse":
            energies = self._bands_near_fermi(bandpath.kpts, kind)
        else:
            energies = self.record.eigenvalues(bandpath.kpts, kind)
        return {"kpoints": bandpath.kpts, "x": x, "energies": energies, "special_x": special_x,
                "labels": [("Γ" if label == "G" else label) for label in labels], "fermi_energy": self.fermi_energy,
                "path": bandpath.path}

    def dos(self, mesh=None, width_ev: float = 0.1, energies=None, kind: str = "hamiltonian") -> dict:
        """Density of states (states / eV / cell, spin included) with Gaussian broadening ``width_ev`` on
        a Γ-centred ``mesh`` (default ~25 Å⁻¹ of k-density along each axis)."""
        mesh = mesh or [max(1, math.ceil(25.0 / np.linalg.norm(a))) for a in self.record.lattice]
        if self.solver == "sparse":
            from ..kspace.sparse import kpm_spectrum

            spectrum = kpm_spectrum(self.record, monkhorst_pack(mesh), width_ev=width_ev, kind=kind)
            if energies is None:
                low = min(e.min() for e in spectrum.node_energies)
                high = max(e.max() for e in spectrum.node_energies)
                energies = np.linspace(low - 1.0, high + 1.0, 1200)
            return {"energies": energies, "dos": spectrum.dos(energies), "mesh": list(mesh),
                    "fermi_energy": self.fermi_energy, "solver": "sparse"}
        eigenvalues = self.record.eigenvalues(monkhorst_pack(mesh), kind)
        weight = (1.0 if self.record.spinful else 2.0) / len(eigenvalues)  # per k-point, spin included
        eigenvalues = eigenvalues.ravel()
        if energies is None:
            energies = np.linspace(eigenvalues.min() - 1.0, eigenvalues.max() + 1.0, 1200)
        gaussians = np.exp(-0.5 * ((energies[:, None] - eigenvalues[None, :]) / width_ev) ** 2)
        dos = weight * gaussians.sum(axis=1) / (width_ev * math.sqrt(2 * math.pi))
        return {"energies": energies, "dos": dos, "mesh": list(mesh), "fermi_energy": self.fermi_energy}

    def _sparse_window(self) -> tuple:
        """(low, high) eV the sparse solver's bands cover: E_F ± window_ev, or [VBM − window_ev,
        CBM + window_ev] in an insulator."""
        edges = [self.occupation[key] for key in ("vbm", "cbm")]
        low, high = edges if all(map(math.isfinite, edges)) else (self.fermi_energy, self.fermi_energy)
        return low - self.window_ev, high + self.window_ev

    def _bands_near_fermi(self, kpoints, kind: str) -> np.ndarray:
        """(K, n) eigenvalues within E_F ± window_ev (an insulator: [VBM − window_ev, CBM + window_ev]) at each
        k-point by shift-invert Lanczos, padded with NaN where a k-point holds fewer (drawn as no point).
        No eigenvalues, (K, 0), above FACTORISE_MAX_ROWS rows, where shift-invert would need an LU that does not fit."""
        from ..kspace.sparse import FACTORISE_MAX_ROWS, eigenvalues_in_window, sparse_matrices

        if self.record.matrix_rows > FACTORISE_MAX_ROWS:
            return np.zeros((len(kpoints), 0))
        low, high = self._sparse_window()
        found = [eigenvalues_in_window(*sparse_matrices(self.record, k, kind), low, high) for k in kpoints]
        width = max((len(f) for f in found), default=0)
        energies = np.full((len(found), width), np.nan)
        for row, values in zip(energies, found):
            row[:len(values)] = values
        return energies

    def plot(self, path, window_ev=None):
        """Bands (E − E_F) beside the DOS, E_F marked, the gap named; written to ``path`` (PNG). The energy
        window is ±6 eV, or the sparse solver's E_F ± window_ev, where its bands are points (the
        eigenvalues found at each k-point)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        start = time.perf_counter()
        bands = self.bands()
        self.timings["bands_s"] = time.perf_counter() - start
        start = time.perf_counter()
        dos = self.dos()
        self.timings["dos_s"] = time.perf_counter() - start
        fermi = self.fermi_energy if math.isfinite(self.fermi_energy) else 0.0
        figure, (axis, side) = plt.subplots(1, 2, figsize=(7.5, 4.5), dpi=110, sharey=True,
                                            gridspec_kw={"width_ratios": [3, 1]})
        sparse = self.solver == "sparse"
        if window_ev is None and sparse:  # the energies the sparse bands hold
            window_ev = tuple(energy - fermi for energy in self._sparse_window())
        window_ev = window_ev or (-6.0, 6.0)
        for band in (bands["energies"] - fermi).T:
            axis.plot(bands["x"], band, ".", color="tab:red", ms=2) if sparse else \
                axis.plot(bands["x"], band, color="tab:red", lw=1.0)
        for tick in bands["special_x"]:
            axis.axvline(tick, color="0.8", lw=0.8)
        for where in (axis, side):
            where.axhline(0.0, color="0.4", lw=0.8, ls="--")
        axis.set_xticks(bands["special_x"], bands["labels"])
        axis.set_xlim(bands["x"][0], bands["x"][-1])
        axis.set_ylim(*window_ev)
        axis.set_ylabel("E − E_F (eV)")
        occupation = self.occupation
        if occupation.get("metallic"):
            gap = "metal"
        elif occupation.get("vbm_at"):
            gap = (f"{'direct' if occupation['direct_gap'] else 'indirect'} gap {self.band_gap:.3f} eV, "
                   f"VBM {occupation['vbm_at']}, CBM {occupation['cbm_at']}")
        else:
            gap = f"gap {self.band_gap:.3f} eV" + (" (from the DOS)" if occupation.get("gap_method", "").startswith("kpm dos")
                                                   else "")
        if not bands["energies"].size:
            axis.text(0.5, 0.5, f"no bands: {self.record.matrix_rows:,} rows are\nmore than shift-invert can factorise",
                      transform=axis.transAxes, ha="center", va="center", color="0.4")
        axis.set_title(f"{self.label} ({self.record.formula}) — predicted Ĥ, {gap}", fontsize=10)
        side.plot(dos["dos"], dos["energies"] - fermi, color="tab:red", lw=1.0)
        side.set_xlabel("DOS (states/eV)")
        side.set_xlim(left=0.0)
        figure.tight_layout()
        figure.savefig(path)
        plt.close(figure)
        return Path(path)

    def summary(self) -> dict:
        """What summary.json holds: the structure, E_F and its k-mesh convergence (mesh, estimated error,
        method), the gap with where its band edges lie, the timings and the model's provenance."""
        from ..kspace.occupation import occupation_facts

        return {"label": self.label, "formula": self.record.formula, "atoms": self.record.num_atoms,
                "pairs": self.record.num_edges, "spinful": self.record.spinful,
                "electrons": self.record.num_electrons, "fermi_energy_ev": self.fermi_energy,
                **occupation_facts(self.occupation), "solver": self.solver, "timings_s": dict(self.timings),
                "checkpoints": self.record.metadata.get("checkpoints"),
                "unseen_elements": self.record.metadata.get("unseen_elements", []),
                **{key: self.record.metadata.get(key) for key in ("in_domain", "domain_score", "domain_reason")}}

    def to_deeph(self, folder, spinful: bool = False) -> Path:
        """A DeepH-pack 1.0 structure folder that DeepH-dock reads as it is: POSCAR, info.json (E_F, electron
        count), ``hamiltonian.h5`` = Ĥ (also as ``hamiltonian_pred.h5``), ``hamiltonian_0.h5`` = H(0),
        ``overlap.h5`` = S and ``K_PATH`` (:func:`~nextham.io.deeph.write_deeph`). ``spinful`` writes a
        spinless structure as H ⊗ I₂."""
        from ..io.deeph import write_deeph

        write_deeph(folder, self.record.as_spinful() if spinful else self.record, self.basis, prediction=True)
        return Path(folder)

    def write(self, folder, spinful: bool = False) -> Path:
        """Everything for one structure in ``folder``: the DeepH folder, bands.png and summary.json."""
        from ..io.jsonfile import write_json

        folder = Path(folder)
        start = time.perf_counter()
        self.to_deeph(folder, spinful=spinful)
        self.timings["export_s"] = time.perf_counter() - start
        self.plot(folder / "bands.png")  # times the band path and the DOS
        stages = [key for key in self.timings if key.endswith("_s") and key != "total_s"]
        self.timings["total_s"] = sum(self.timings[key] for key in stages)
        write_json(folder / "summary.json", self.summary())
        return folder
