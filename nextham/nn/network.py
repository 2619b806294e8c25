"""The NextHAM network: H(0) in, ΔH out, strictly E(3)-equivariant.

* Input: every H(0) block goes through the Wigner–Eckart converter; on-site blocks become node
  features, off-site blocks edge features (no per-element embedding unless asked for, as ablation).
  Optionally (``population_input``) each atom's electrons per shell in H(0)'s filled bands and its
  excess over the neutral atom join the invariant node features (``batch.node_populations``).
* Backbone: transformer blocks over edges (equivariant layer norm, depth-wise tensor product of the
  message with the edge's spherical harmonics weighted by a radial MLP, gated values, distance-aware
  attention logits, softmax over the edges entering a node) that update nodes *and* edges, each
  followed by TraceGrad on the edge features.
* Decoder: edge features → irreps of ΔH → orbital blocks (inverse converter), scaled by
  exp(−decay·r), made Hermitian by construction (ΔH_ij(R) and ΔH_ji(−R) from one symmetrised value)
  and masked to existing orbitals; times a fixed unit (``output_unit_ev``: the corrections are
  meV-sized, Adam's steps are not). Optionally (``overlap_shift``) plus ½(v_i + v_j) S_ij from an
  invariant per-atom, per-shell potential shift v: the charge-transfer part of ΔH.
* Spin–orbit data: by default the correction is spinless, ΔH ⊗ I₂ (a non-magnetic SCF changes only
  V_H and V_xc, both spin-scalar) and the spin–orbit part stays that of H(0); ``spin_output: spinor``
  predicts complex 2×2 spin blocks through the spinful converter instead, restricted to the irreps a
  time-reversal-invariant (non-magnetic) Hamiltonian holds, so Θ ΔĤ Θ⁻¹ = ΔĤ exactly (Kramers pairs
  stay degenerate at time-reversal-invariant k).
"""
from __future__ import annotations

import numpy as np
import torch
from e3nn import o3
from e3nn.nn import Gate

from ..conventions import spin_diagonal, to_e3nn_frame
from ..errors import DataError
from ..kspace.populations import POPULATION_MESH_LENGTH_ANGSTROM
from .layers import (EquivariantLayerNorm, GaussianRadialBasis, RadialMLP, gated_irreps, head_of_component,
                     scalar_irreps, scatter_softmax)
from .tracegrad import TraceGradModule
from .wigner_eckart import BlockIrreps

SPIN_OUTPUTS = ("spinless", "spinor")
DEFAULT_HIDDEN_MULTIPLICITIES = {0: 32, 1: 16, 2: 8, 3: 8, 4: 4, 5: 2, 6: 2, 7: 2}
DEFAULT_TRACEGRAD = {"enabled": True, "num_invariants": 64, "hidden": 64, "scale": 0.2}


def hidden_irreps_for(output_irreps, multiplicities: dict) -> o3.Irreps:
    """Hidden irreps: every (l, parity) the output needs, plus even scalars, with per-l multiplicity."""
    types = {(ir.l, ir.p) for _, ir in o3.Irreps(output_irreps)} | {(0, 1)}
    multiplicity = {int(l): int(m) for l, m in multiplicities.items()}
    missing = sorted({l for l, _ in types} - set(multiplicity))
    if missing:
        raise ValueError(f"hidden_multiplicities has no entry for l = {missing}, needed by the output irreps")
    ordered = sorted(types, key=lambda t: (t[0], -t[1]))  # 0e first
    return o3.Irreps([(multiplicity[l], (l, p)) for l, p in ordered])


def _gate(irreps):
    scalars = scalar_irreps(irreps)
    gated = gated_irreps(irreps)
    activations = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    return Gate(scalars, activations, f"{gated.num_irreps}x0e", [torch.sigmoid], gated)


def _depthwise_tensor_product(irreps_in, irreps_sh, allowed):
    """uvu tensor product into the sorted irreps present in ``allowed``; returns (tp, simplified out)."""
    allowed_types = {ir for _, ir in allowed}
    mid, instructions = [], []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for j, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out in allowed_types:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    mid = o3.Irreps(mid)
    sorted_mid, permutation, _ = mid.sort()
    instructions = [(i, j, permutation[k], mode, train) for i, j, k, mode, train in instructions]
    tp = o3.TensorProduct(irreps_in, irreps_sh, sorted_mid, instructions, shared_weights=False, internal_weights=False)
    return tp, sorted_mid.simplify()  # same memory layout, fewer blocks for the Linear after it


class TransformerBlock(torch.nn.Module):
    def __init__(self, hidden, irreps_sh, num_basis, radial_hidden, num_heads, tracegrad: dict,
                 update_nodes: bool = True):
        super().__init__()
        self.hidden = hidden
        self.update_nodes = update_nodes  # the last block's node update would feed nothing: left out
        self.norm_node = EquivariantLayerNorm(hidden)
        self.norm_edge = EquivariantLayerNorm(hidden)
        self.linear_source = o3.Linear(hidden, hidden, biases=True)
        self.linear_target = o3.Linear(hidden, hidden)
        self.linear_edge = o3.Linear(hidden, hidden)
        self.tensor_product, mid = _depthwise_tensor_product(hidden, irreps_sh, hidden)
        self.radial = RadialMLP([num_basis, radial_hidden, radial_hidden, self.tensor_product.weight_numel])
        self.value_gate = _gate(hidden)
        self.linear_value = o3.Linear(mid, self.value_gate.irreps_in)
        self.linear_invariants = o3.Linear(mid, f"{radial_hidden}x0e")
        self.attention = RadialMLP([num_basis + radial_hidden, radial_hidden, num_heads])
        self.linear_edge_out = o3.Linear(hidden, hidden)
        if update_nodes:
            self.linear_node = o3.Linear(hidden, hidden)
            self.norm_ffn = EquivariantLayerNorm(hidden)
            self.ffn_gate = _gate(hidden)
            self.ffn_in = o3.Linear(hidden, self.ffn_gate.irreps_in)
            self.ffn_out = o3.Linear(hidden, hidden)
        self.register_buffer("heads", head_of_component(hidden, num_heads), persistent=False)
        self.tracegrad = None
        if tracegrad.get("enabled", True):
            self.tracegrad = TraceGradModule(hidden, **{k: v for k, v in tracegrad.items() if k != "enabled"})

    def forward(self, nodes, edges, source, target, sh, rbf):
        normal_nodes, normal_edges = self.norm_node(nodes), self.norm_edge(edges)
        message = (self.linear_source(normal_nodes)[source] + self.linear_target(normal_nodes)[target]
                   + self.linear_edge(normal_edges))
        mixed = self.tensor_product(message, sh, self.radial(rbf))
        logits = self.attention(torch.cat([rbf, self.linear_invariants(mixed)], dim=-1))  # (E, heads)
        values = self.value_gate(self.linear_value(mixed))
        if self.update_nodes:
            weights = scatter_softmax(logits, target, nodes.shape[0])
            aggregated = torch.zeros_like(nodes).index_add_(0, target, values * weights[:, self.heads])
            nodes = nodes + self.linear_node(aggregated)
            nodes = nodes + self.ffn_out(self.ffn_gate(self.ffn_in(self.norm_ffn(nodes))))
        edges = edges + self.linear_edge_out(values * logits[:, self.heads])
        invariants = None
        if self.tracegrad is not None:
            edges, invariants = self.tracegrad(edges)
        return nodes, edges, invariants


class NextHAMNet(torch.nn.Module):
    """One network (one ensemble member). ``slot_ls``: the dataset's padded shell layout."""

    def __init__(self, slot_ls, spinful_input: bool = False, spin_output: str = "spinless",
                 hidden_multiplicities: dict | None = None, num_layers: int = 2, num_heads: int = 2,
                 sh_lmax: int = 4, num_radial_basis: int = 32, radial_cutoff_angstrom: float = 8.0,
                 radial_hidden: int = 32, tracegrad: dict | None = None, distance_decay: float = 0.2,
                 element_embedding: bool = False, use_h0_input: bool = True, output_scale: float = 0.01,
                 output_unit_ev: float = 1.0, overlap_shift: bool = False, overlap_shift_unit_ev: float = 0.1,
                 population_input: bool = False,
                 population_mesh_length_angstrom: float = POPULATION_MESH_LENGTH_ANGSTROM):
        super().__init__()
        if not use_h0_input and not element_embedding:
            raise ValueError("without the H(0) input the network needs element_embedding: true to tell atoms apart")
        self.use_h0_input = use_h0_input
        if spin_output not in SPIN_OUTPUTS:
            raise ValueError(f"spin_output must be one of {SPIN_OUTPUTS}, got {spin_output!r}")
        self.slot_ls = tuple(slot_ls)
        self.spinful_input, self.spin_output = spinful_input, spin_output
        self.distance_decay = distance_decay
        self.output_unit_ev = float(output_unit_ev)
        self.input_converter = BlockIrreps(self.slot_ls, spinful=spinful_input)
        self.output_converter = BlockIrreps(self.slot_ls, spinful=spin_output == "spinor")
        multiplicities = hidden_multiplicities or DEFAULT_HIDDEN_MULTIPLICITIES
        self.hidden = hidden_irreps_for(self.output_converter.irreps_sorted, multiplicities)
        self.irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        self.radial_basis = GaussianRadialBasis(num_radial_basis, radial_cutoff_angstrom)
        self.edge_input = o3.Linear(self.input_converter.irreps_sorted, self.hidden)
        self.node_input = o3.Linear(self.input_converter.irreps_sorted, self.hidden)
        self.norm_edge_input = EquivariantLayerNorm(self.hidden)
        self.norm_node_input = EquivariantLayerNorm(self.hidden)
        self.register_buffer("orbital_slot", torch.repeat_interleave(
            torch.arange(len(self.slot_ls)), torch.tensor([2 * l + 1 for l in self.slot_ls])), persistent=False)
        self.population_input = self.population_shift = None
        # the k-mesh (N_i·|a_i| ≥ this) of the populations the network was trained on: the same for a new crystal
        self.population_mesh_length_angstrom = float(population_mesh_length_angstrom)
        if population_input:  # H(0)'s filled bands: electrons per shell and the atom's excess over neutral
            self.population_input = torch.nn.Sequential(
                torch.nn.Linear(len(self.slot_ls) + 1, radial_hidden), torch.nn.SiLU(),
                torch.nn.Linear(radial_hidden, self.hidden[0].mul))
        self.element_embedding = None
        if element_embedding:
            self.element_embedding = torch.nn.Embedding(120, self.hidden[0].mul)
        tracegrad = {**DEFAULT_TRACEGRAD, **(tracegrad or {})}
        self.blocks = torch.nn.ModuleList([
            TransformerBlock(self.hidden, self.irreps_sh, num_radial_basis, radial_hidden, num_heads, tracegrad,
                             update_nodes=layer < num_layers - 1)
            for layer in range(num_layers)])
        self.edge_output = o3.Linear(self.hidden, self.output_converter.irreps_sorted)
        self.register_buffer("output_components", self.output_converter.time_reversal_even_components()
                             .to(torch.get_default_dtype()), persistent=False)
        with torch.no_grad():  # start from ΔĤ ≈ 0, i.e. from the H(0) baseline, not from noise
            self.edge_output.weight.mul_(output_scale)
        self.num_shell_pairs = len(self.slot_ls) ** 2
        self.overlap_shift = None
        if overlap_shift:  # one invariant potential shift per atom and shell slot, ½(v_i + v_j) S_ij on every edge
            self.overlap_shift = o3.Linear(self.hidden, f"{len(self.slot_ls)}x0e")
            with torch.no_grad():
                self.overlap_shift.weight.mul_(output_scale)
            self.overlap_shift_unit_ev = float(overlap_shift_unit_ev)
            if population_input:  # the SCF raises the levels of an atom that H(0)'s bands gave extra electrons,
                # about linearly in the excess (benchmarks/charge_transfer.py): a direct path, eV per electron
                self.population_shift = torch.nn.Linear(1, len(self.slot_ls), bias=False)
                torch.nn.init.zeros_(self.population_shift.weight)
        self.trace_head = None
        if tracegrad["enabled"] and num_layers:
            width = tracegrad["hidden"]
            self.trace_head = torch.nn.Sequential(
                torch.nn.Linear(width * num_layers, width), torch.nn.SiLU(), torch.nn.Linear(width, width),
                torch.nn.SiLU(), torch.nn.Linear(width, self.num_shell_pairs))

    def spherical_harmonics(self, vectors, lengths):
        # on-site blocks (r = 0) have no direction: only the l = 0 harmonic survives
        safe = torch.where(lengths[:, None] > 1e-9, vectors, torch.ones_like(vectors))
        sh = o3.spherical_harmonics(self.irreps_sh, to_e3nn_frame(safe), normalize=True, normalization="component")
        return torch.where(lengths[:, None] > 1e-9, sh, torch.nn.functional.pad(sh[:, :1], (0, sh.shape[1] - 1)))

    def forward(self, batch, edge_subset: torch.Tensor | None = None) -> dict:
        """ΔĤ of every edge of ``batch``; with ``edge_subset`` (a boolean edge mask closed under
        reversal, such as a distance range) only those edges are decoded and the rest are zero. The last
        block updates no node, so its edges depend on nothing but themselves and their two atoms: it
        runs on the subset alone, and the result on the subset is that of the whole graph."""
        if batch.spinful != self.spinful_input:
            raise ValueError(f"network built for {'spinful' if self.spinful_input else 'spinless'} input, "
                             f"batch is {'spinful' if batch.spinful else 'spinless'}")
        source, target = batch.edge_index
        lengths = batch.edge_vectors.norm(dim=-1)
        sh = self.spherical_harmonics(batch.edge_vectors, lengths)
        rbf = self.radial_basis(lengths)
        inputs = self.input_converter.to_sorted_irreps(batch.hamiltonian_0)
        if not self.use_h0_input:  # ablation: geometry and element embeddings only
            inputs = torch.zeros_like(inputs)
        edges = self.norm_edge_input(self.edge_input(inputs))
        onsite = (source == target) & (batch.cell_shifts == 0).all(dim=-1)
        nodes = torch.zeros(batch.atomic_numbers.shape[0], self.hidden.dim, dtype=edges.dtype, device=edges.device)
        nodes = self.norm_node_input(nodes.index_add(0, source[onsite], self.node_input(inputs[onsite])))
        if self.element_embedding is not None:
            nodes = self._add_scalars(nodes, self.element_embedding(batch.atomic_numbers))
        populations = None
        if self.population_input is not None:
            populations = self._shell_populations(batch, nodes.dtype)  # (N, slots + 1): per shell, excess
            nodes = self._add_scalars(nodes, self.population_input(populations))
        subset, reverse = self._subset(batch, edge_subset)
        overlap = batch.overlap if subset is None else batch.overlap[subset]
        invariants = []
        for index, block in enumerate(self.blocks):
            if index == len(self.blocks) - 1 and subset is not None:
                edges, source, target, sh, rbf = (x[subset] for x in (edges, source, target, sh, rbf))
                invariants = [z[subset] for z in invariants]
            if index == len(self.blocks) - 1:
                shift = self._overlap_shift(nodes, source, target, overlap, populations)  # nodes the last block reads
                node_invariants = self.node_invariants(nodes)
            nodes, edges, z = block(nodes, edges, source, target, sh, rbf)
            if z is not None:
                invariants.append(z)
        if not self.blocks:
            node_invariants = self.node_invariants(nodes)
            if subset is not None:
                edges, source, target = edges[subset], source[subset], target[subset]
            shift = self._overlap_shift(nodes, source, target, overlap, populations)
        kept_lengths = lengths if subset is None else lengths[subset]
        delta = self.output_converter.from_sorted_irreps(self.edge_output(edges) * self.output_components.to(edges.dtype))
        delta = delta * (self.output_unit_ev * torch.exp(-self.distance_decay * kept_lengths))[:, None, None]
        if shift is not None:
            if shift.shape[-1] != delta.shape[-1]:  # spinor output: the shift is spin-scalar
                shift = spin_diagonal(shift)
            delta = delta + shift.to(delta.dtype)
        if batch.spinful and self.spin_output == "spinless":
            delta = spin_diagonal(delta).to(batch.hamiltonian_0.dtype)
        delta = 0.5 * (delta + delta[reverse].transpose(-1, -2).conj())
        trace = self.trace_head(torch.cat(invariants, dim=-1)) if self.trace_head is not None and invariants else None
        if subset is not None:
            delta = delta.new_zeros((lengths.shape[0], *delta.shape[1:])).index_copy(0, subset, delta)
            if trace is not None:
                trace = trace.new_zeros((lengths.shape[0], trace.shape[-1])).index_copy(0, subset, trace)
        delta = delta * batch.orbital_mask
        return {"delta_hamiltonian": delta, "trace": trace, "edge_lengths": lengths, "node_invariants": node_invariants}

    def node_invariants(self, nodes) -> torch.Tensor:
        """The rotation-invariant (0e) channels of node features: what the domain check compares with
        the training atoms' (:mod:`nextham.evaluate.domain`)."""
        columns = [torch.arange(sl.start, sl.stop) for (_, ir), sl in zip(self.hidden, self.hidden.slices())
                   if ir.l == 0 and ir.p == 1]
        return nodes[:, torch.cat(columns).to(nodes.device)]

    @staticmethod
    def _add_scalars(nodes, scalars):
        """``scalars`` (N, m) added to the first m invariant (0e) features of every node."""
        return torch.cat([nodes[:, :scalars.shape[1]] + scalars, nodes[:, scalars.shape[1]:]], dim=-1)

    def _shell_populations(self, batch, dtype):
        """(N, shell slots + 1): electrons per shell of every atom (``batch.node_populations``) and, last,
        the atom's excess over the neutral atom (``batch.node_valence``)."""
        populations, valence = batch.node_populations, batch.node_valence
        if populations.shape[0] != batch.atomic_numbers.shape[0] or valence.shape[0] != populations.shape[0]:
            raise DataError("the network reads H(0)'s populations, which this batch does not hold: the data module "
                            "batches them after set_populations(True) (build_module and DataModule.serve do it)",
                            structure=", ".join(batch.labels))
        unknown = ~(torch.isfinite(populations).all(dim=-1) & torch.isfinite(valence))
        if bool(unknown.any()):
            bad = sorted({batch.labels[s] for s in batch.node_batch[unknown].tolist()})
            raise DataError("the network reads H(0)'s filled bands against the neutral atoms, which need the cell's "
                            "valence electron count (num_electrons: nextham data generate stores it; for DeepH folders "
                            "info.json's occupation) and each element's valence (read from GTH -qN or ECP pseudopotential "
                            "names in the basis)", structure=", ".join(bad))
        per_slot = populations.new_zeros(populations.shape[0], len(self.slot_ls))
        per_slot = per_slot.index_add(1, self.orbital_slot, populations)
        excess = per_slot.sum(dim=-1, keepdim=True) - valence[:, None]
        return torch.cat([per_slot, excess], dim=-1).to(dtype)

    def _overlap_shift(self, nodes, source, target, overlap, populations=None):
        """½(v_i,a + v_j,b) S_ij,ab (E, P, P), v the invariant per-shell shift of each atom's potential:
        a potential that varies slowly over an orbital pair changes its block by about its mean times
        their overlap, which is most of what charge transfer does to H(0) in an ionic crystal. Invariant
        shifts times S keep ΔĤ equivariant and Hermitian. With the population input v also holds a learned
        eV-per-electron multiple of the atom's excess over neutral in H(0)'s filled bands (``populations``'
        last column). None without the head."""
        if self.overlap_shift is None:
            return None
        shifts = self.overlap_shift(nodes) * self.overlap_shift_unit_ev
        if self.population_shift is not None:
            shifts = shifts + self.population_shift(populations[:, -1:])
        shifts = shifts[:, self.orbital_slot]  # (N, P)
        mean = 0.5 * (shifts[source][:, :, None] + shifts[target][:, None, :])
        return mean * overlap.to(mean.dtype)

    @staticmethod
    def _subset(batch, edge_subset):
        """(indices of the subset or None for every edge, the reverse edge of each kept edge, indexed
        within the kept edges)."""
        if edge_subset is None:
            return None, batch.reverse_edge
        if not bool(edge_subset[batch.reverse_edge].eq(edge_subset).all()):
            raise ValueError("edge_subset must hold the reverse of every edge it holds (ΔĤ is made Hermitian)")
        subset = edge_subset.nonzero().squeeze(-1)
        position = torch.cumsum(edge_subset.long(), 0) - 1
        return subset, position[batch.reverse_edge[subset]]


def count_parameters(module) -> int:
    return int(sum(np.prod(p.shape) for p in module.parameters()))
