"""Band metrics (torchmetrics, DDP-safe): band-energy MAE near E_F, ghost states and the PQ coupling
norm, from the spectra of Ĥ and H(T) at given k-points; predicted bands are taken in the Gauge-MAE
gauge (Ĥ − μ*S) unless ``align_gauge`` is off. All energies are reported in meV."""
from __future__ import annotations

import torch
from torchmetrics import Metric

from ..data.batch import structure_blocks
from ..kspace import bloch_sum, gauge_shift, generalized_eigh


def ghost_state_count(predicted_energies, true_energies, upper_limit: float, tolerance: float) -> int:
    """Predicted states at or below ``upper_limit`` with no true state within ``tolerance`` (one k)."""
    predicted = predicted_energies[predicted_energies <= upper_limit]
    if predicted.numel() == 0:
        return 0
    nearest = (predicted[:, None] - true_energies[None, :]).abs().min(dim=-1).values
    return int((nearest > tolerance).sum())


class BandMetrics(Metric):
    """Band-energy MAE near E_F, ghost states and the PQ coupling norm at given k-points.

    Bands are compared by index within [E_F − window, E_F + window] of the true spectrum; ghost states
    are counted among predicted states up to E_F + ``p_window_ev`` (the P subspace); the PQ norm is
    ‖C_P† Ĥ(k) C_Q‖_F with the true S-orthonormal eigenvectors C (zero for the truth).

    With ``align_gauge`` the predicted bands are those of Ĥ − μ*S, μ* the Gauge-MAE shift: the energy
    zero of a Kohn–Sham Hamiltonian is arbitrary, and a rigid offset is neither a band error nor a
    ghost state (the PQ norm does not depend on it, C_P†SC_Q = 0)."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, window_ev: float = 2.0, p_window_ev: float = 10.0, ghost_tolerance_ev: float = 0.1,
                 overlap_threshold: float = 1e-6, align_gauge: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.window_ev, self.p_window_ev = window_ev, p_window_ev
        self.ghost_tolerance_ev, self.overlap_threshold = ghost_tolerance_ev, overlap_threshold
        self.align_gauge = align_gauge
        for name in ("band_abs_sum", "band_count", "ghost_states", "kpoints", "pq_norm_sum", "structures",
                     "shift_abs_sum"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predicted_hamiltonian, batch, kpoints):
        for spectrum in band_spectra(predicted_hamiltonian, batch, kpoints, self.overlap_threshold,
                                     align_gauge=self.align_gauge):
            fermi, true, predicted = spectrum["fermi_energy"], spectrum["true"], spectrum["predicted"]
            self.structures += 1.0
            self.shift_abs_sum += abs(spectrum["gauge_shift"] or 0.0)
            for k in range(true.shape[0]):
                near = (true[k] - fermi).abs() <= self.window_ev
                self.band_abs_sum += (predicted[k][near] - true[k][near]).abs().double().sum()
                self.band_count += float(near.sum())
                self.ghost_states += ghost_state_count(predicted[k], true[k], fermi + self.p_window_ev,
                                                       self.ghost_tolerance_ev)
            vectors = spectrum["true_vectors"]
            for k in range(true.shape[0]):  # the P subspace is k-dependent: states up to E_F + window
                n_p = int((true[k] <= fermi + self.p_window_ev).sum())
                coupling = vectors[k, :, :n_p].mH @ spectrum["predicted_k"][k] @ vectors[k, :, n_p:]
                self.pq_norm_sum += torch.linalg.matrix_norm(coupling).double()
            self.kpoints += float(true.shape[0])

    def compute(self) -> dict:
        kpoints = self.kpoints.clamp_min(1)
        return {"band_mae_mev": float(self.band_abs_sum / self.band_count.clamp_min(1) * 1000.0),
                "ghost_states": int(self.ghost_states), "ghost_states_per_kpoint": float(self.ghost_states / kpoints),
                "pq_norm_mev": float(self.pq_norm_sum / kpoints * 1000.0), "kpoints": int(self.kpoints),
                "mean_abs_gauge_shift_mev": float(self.shift_abs_sum / self.structures.clamp_min(1) * 1000.0)}


def band_spectra(predicted_hamiltonian, batch, kpoints, overlap_threshold: float = 1e-6,
                 align_gauge: bool = True, structures=None) -> list:
    """Per structure of ``batch`` (or of the indices in ``structures``), in its own representation
    (spinless bands once, not twice): true and predicted eigenvalues (K, n) at ``kpoints``
    (fractional), the true eigenvectors and the predicted H(k). The overlap is the true one for both.
    With ``align_gauge`` the prediction is Ĥ − μ*S (μ* of the Gauge MAE, reported as ``gauge_shift``
    in eV; None without alignment): its bands are Ĥ's moved rigidly by −μ*."""
    predicted_hamiltonian = predicted_hamiltonian.detach()
    out = []
    for index in range(batch.num_structures) if structures is None else structures:
        view = structure_blocks(batch, index, predicted_hamiltonian)
        assemble = lambda blocks: bloch_sum(blocks, view["edge_index"], view["cell_shifts"], view["num_atoms"],
                                            kpoints, view["node_mask"])
        predicted_blocks, overlap = view["predicted"], view["overlap"].to(view["predicted"].real.dtype)
        shift = None
        if align_gauge:
            shift = gauge_shift(predicted_blocks, view["hamiltonian"].to(predicted_blocks.dtype), overlap, view["mask"])
            predicted_blocks = predicted_blocks - shift * overlap
        overlap_k = assemble(overlap)
        with torch.no_grad():
            true, vectors = generalized_eigh(assemble(view["hamiltonian"]), overlap_k, overlap_threshold)
            predicted_k = assemble(predicted_blocks)
            predicted, _ = generalized_eigh(predicted_k, overlap_k, overlap_threshold)
        out.append({"label": view["label"], "fermi_energy": float(batch.fermi_energy[index]), "true": true,
                    "predicted": predicted, "true_vectors": vectors, "predicted_k": predicted_k,
                    "gauge_shift": None if shift is None else float(shift), "spinful": view["spinful"]})
    return out
