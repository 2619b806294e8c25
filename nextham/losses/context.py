"""What every loss term reads: errors, masks, the gauge μ and the k-space projections, computed once."""
from __future__ import annotations

from functools import cached_property

import torch

from ..conventions import spin_diagonal
from ..kspace import bloch_sum, gauge_terms, generalized_eigh, monkhorst_pack


DEFAULT_KSPACE = {"kmesh": [2, 2, 2], "num_kpoints": 2, "window_ev": 10.0, "overlap_threshold": 1e-6}


class LossContext:
    """Per-step shared quantities for a prediction and its batch.

    ``delta_error`` = Ĥ − H(T) = ΔĤ − ΔH per edge block; ``mask`` selects existing orbitals of the
    edges the loss covers (``edge_mask``, e.g. one member's range). ``gauge_weights`` (λ_R, λ_P, λ_Q)
    define the closed-form energy shift μ per structure that the gauge-aware terms remove."""

    def __init__(self, prediction: dict, batch, edge_mask=None, kspace: dict | None = None,
                 gauge_weights=(0.0, 0.0, 0.0), generator: torch.Generator | None = None):
        self.prediction, self.batch = prediction, batch
        self.predicted = prediction["delta_hamiltonian"]
        self.target = batch.delta_hamiltonian.to(self.predicted.dtype)
        self.delta_error = self.predicted - self.target
        edge_mask = torch.ones_like(batch.edge_lengths, dtype=torch.bool) if edge_mask is None else edge_mask
        self.mask = batch.orbital_mask & edge_mask[:, None, None]
        self.overlap_blocks = spin_diagonal(batch.overlap) if batch.spinful else batch.overlap
        self.kspace_options = {**DEFAULT_KSPACE, **(kspace or {})}
        self.gauge_weights = tuple(float(w) for w in gauge_weights)
        self.generator = generator
        self.ranges = batch.structure_slices()

    # ------------------------------------------------------------------ R space
    def per_structure_mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean over structures of the masked mean of ``values`` (E, B, B) within each structure."""
        means = []
        for edges, _ in self.ranges:
            mask = self.mask[edges]
            count = mask.sum()
            if count:
                means.append((values[edges] * mask).sum() / count)
        return torch.stack(means).mean() if means else values.sum() * 0.0

    @cached_property
    def mu(self) -> torch.Tensor:
        """Closed-form gauge per structure, detached: the weighted least-squares shift of the R-space,
        P and Q terms (Ĥ and Ĥ − μS have the same bands up to a rigid shift μ)."""
        weight_r, weight_p, weight_q = self.gauge_weights
        values = []
        for index, (edges, _) in enumerate(self.ranges):
            mask = self.mask[edges]
            count = mask.sum().clamp_min(1)
            inner, norm = gauge_terms(self.delta_error[edges], self.overlap_blocks[edges], mask)
            numerator, denominator = weight_r * inner / count, weight_r * norm / count
            if weight_p or weight_q:
                projection = self.kspace[index]
                numerator = numerator + weight_p * projection["trace_p"]
                denominator = denominator + weight_p / projection["n_p"]
                if projection["n_q"]:
                    numerator = numerator + weight_q * projection["trace_q"]
                    denominator = denominator + weight_q / projection["n_q"]
            values.append((numerator / denominator).detach() if denominator > 0 else numerator.detach() * 0.0)
        return torch.stack(values)

    def mu_per_edge(self) -> torch.Tensor:
        return self.mu[self.batch.edge_batch]

    # ------------------------------------------------------------------ k space
    def sample_kpoints(self) -> torch.Tensor:
        mesh = self.kspace_options["kmesh"]
        shift = torch.rand(3, generator=self.generator, dtype=torch.float64)
        grid = torch.as_tensor(monkhorst_pack(mesh, shift.numpy()))
        count = min(int(self.kspace_options["num_kpoints"]), len(grid))
        return grid[torch.randperm(len(grid), generator=self.generator)[:count]]

    @cached_property
    def kspace(self) -> list:
        """Per structure: the error projected on ground-truth S-orthonormal eigenvectors at sampled k,
        split into P (bands up to E_F + window), Q (the rest) and the PQ coupling block."""
        batch, out = self.batch, []
        for index, (edges, atoms) in enumerate(self.ranges):
            kpoints = self.sample_kpoints()
            local = batch.edge_index[:, edges] - atoms.start
            shifts, natoms = batch.cell_shifts[edges], int(batch.num_atoms[index])
            node_mask = batch.node_orbital_mask[atoms]
            if batch.spinful:
                node_mask = torch.cat([node_mask, node_mask], dim=-1)
            assemble = lambda blocks: bloch_sum(blocks, local, shifts, natoms, kpoints, node_mask)
            with torch.no_grad():
                energies, vectors = generalized_eigh(assemble(batch.hamiltonian[edges]),
                                                     assemble(self.overlap_blocks[edges]),
                                                     self.kspace_options["overlap_threshold"])
            error_k = assemble(self.delta_error[edges])
            limit = float(batch.fermi_energy[index]) + self.kspace_options["window_ev"]
            # P: bands up to E_F + window at the first sampled k (at least one); Q: the rest, maybe none
            n_p = max(1, int((energies[0] <= limit).sum()))
            p_vectors, q_vectors = vectors[..., :n_p], vectors[..., n_p:]
            p_block = p_vectors.mH @ error_k @ p_vectors
            q_block = q_vectors.mH @ error_k @ q_vectors
            pq_block = p_vectors.mH @ error_k @ q_vectors
            n_q = q_vectors.shape[-1]
            out.append({
                "p": p_block, "q": q_block, "pq": pq_block, "n_p": n_p, "n_q": n_q,
                "trace_p": torch.diagonal(p_block, dim1=-2, dim2=-1).real.sum(-1).mean() / n_p ** 2,
                "trace_q": (torch.diagonal(q_block, dim1=-2, dim2=-1).real.sum(-1).mean() / n_q ** 2
                            if n_q else error_k.real.sum() * 0.0),
                "kpoints": kpoints, "energies": energies,
            })
        return out
