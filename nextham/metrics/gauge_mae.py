"""The headline metric, :class:`GaugeMAE` (torchmetrics, DDP-safe: every state is a sum reduced across
processes). Per structure μ* = Re⟨Ĥ − H, S⟩ / ‖S‖² removes the arbitrary energy zero, then the MAE of
Ĥ − (H + μ*S) over existing orbitals of every stored pair, each structure in its own representation
(a spinless crystal in a dataset with spin–orbit ones is scored on its real spinless blocks, not on
H ⊗ I₂ with its zero spin-flip blocks), averaged over structures; the same for H(0) (the baseline)
in the same report; beside it the MAE over the pairs the members predict, and splits by spin block
and real/imaginary part, by element pair and by distance member (entry-weighted within a split).
All energies are reported in meV.
"""
from __future__ import annotations

import torch
from torchmetrics import Metric

from ..conventions import element_symbol, spin_block_slices
from ..data.batch import structure_blocks
from ..kspace import gauge_shift

SPIN_BLOCKS = ("up_up", "up_down", "down_up", "down_down", "spinless")
MAX_Z = 120
PAIRS_DESCRIPTION = ("mean over structures of the per-structure MAE over every stored pair (i, j, R) and every "
                     "existing orbital entry (real and imaginary parts as one complex modulus), after removing "
                     "μ*S; each structure in its own representation: spinless structures as real spinless "
                     "blocks, spin–orbit ones as complex 2×2 spin blocks")


class GaugeMAE(Metric):
    full_state_update = False
    higher_is_better = False

    def __init__(self, member_names=(), group_of=None, group_names=(), **kwargs):
        """``group_of(label, symbols) -> name`` puts each structure in one of ``group_names`` (e.g. the
        benchmark's in_distribution / new_combination / held_out_element); the report then gives the
        headline for each group too."""
        super().__init__(**kwargs)
        self.member_names = tuple(member_names)
        self.group_of, self.group_names = group_of, tuple(group_names)
        # (label, model MAE eV, H(0) MAE eV) per structure, in the order seen (this process's only)
        self.structure_results = []
        # [model, baseline] x group: sums of the per-structure MAE, and the structure counts
        self.add_state("group_sum", torch.zeros(2, max(len(self.group_names), 1), dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("group_structures", torch.zeros(max(len(self.group_names), 1), dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("model_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("baseline_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("structures", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pairs", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("entries", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        # [model, baseline] summed per structure over the pairs the network predicts (graph and a member)
        self.add_state("predicted_pairs_sum", torch.zeros(2, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("predicted_pairs_structures", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        # [model, baseline] x spin block x (real, imaginary): sums of |part| and entry counts
        self.add_state("spin_sum", torch.zeros(2, len(SPIN_BLOCKS), 2, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("spin_count", torch.zeros(len(SPIN_BLOCKS), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pair_sum", torch.zeros(2, MAX_Z, MAX_Z, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pair_count", torch.zeros(MAX_Z, MAX_Z, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("member_sum", torch.zeros(2, len(self.member_names) + 1, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("member_count", torch.zeros(len(self.member_names) + 1, dtype=torch.float64),
                       dist_reduce_fx="sum")

    def update(self, predicted_hamiltonian, batch, member_of_edge=None):
        """``predicted_hamiltonian``: Ĥ blocks (E, B, B) of ``batch``; ``member_of_edge``: the
        ensemble's routing (−1 where H(0) was kept)."""
        i, j = batch.edge_index
        zi, zj = batch.atomic_numbers[i], batch.atomic_numbers[j]
        pair_of_edge = torch.minimum(zi, zj) * MAX_Z + torch.maximum(zi, zj)
        owner = None
        if member_of_edge is not None:
            owner = torch.where(member_of_edge < 0, len(self.member_names), member_of_edge)
        for index in range(batch.num_structures):
            view = structure_blocks(batch, index, predicted_hamiltonian.detach())
            edges, mask = view["edges"], view["mask"]
            mask_float = mask.double()
            target = view["hamiltonian"].to(view["predicted"].dtype)
            overlap = view["overlap"].to(view["predicted"].real.dtype)
            self.structures += 1.0
            group = None
            if self.group_of is not None:
                numbers = batch.atomic_numbers[batch.node_batch == index].tolist()
                group = self.group_names.index(self.group_of(batch.labels[index], {element_symbol(z) for z in numbers}))
                self.group_structures[group] += 1.0
            self.pairs += float(mask.shape[0])
            self.entries += mask_float.sum()
            for slot, candidate in enumerate((view["predicted"], view["hamiltonian_0"].to(target.dtype))):
                mu = gauge_shift(candidate, target, overlap, mask)
                errors = (candidate - target - mu * overlap) * mask
                modulus = errors.abs().double()
                per_edge = modulus.flatten(1).sum(1)
                structure_mae = modulus.sum() / mask_float.sum()
                if slot == 0:
                    self.model_sum += structure_mae
                    self.structure_results.append([batch.labels[index], float(structure_mae), None])
                else:
                    self.baseline_sum += structure_mae
                    self.structure_results[-1][2] = float(structure_mae)
                if group is not None:
                    self.group_sum[slot, group] += structure_mae
                if owner is not None:
                    predicted_edges = owner[edges] < len(self.member_names)
                    if bool(predicted_edges.any()):
                        self.predicted_pairs_sum[slot] += per_edge[predicted_edges].sum() / \
                            mask_float[predicted_edges].sum()
                        if slot == 0:
                            self.predicted_pairs_structures += 1.0
                    self.member_sum[slot].index_add_(0, owner[edges], per_edge)
                    if slot == 0:
                        self.member_count.index_add_(0, owner[edges], mask_float.flatten(1).sum(1))
                self._update_spin(slot, errors, mask_float, view["spinful"])
                self.pair_sum[slot].view(-1).index_add_(0, pair_of_edge[edges], per_edge)
                if slot == 0:
                    self.pair_count.view(-1).index_add_(0, pair_of_edge[edges], mask_float.flatten(1).sum(1))

    def _update_spin(self, slot, errors, mask, spinful):
        if not spinful:
            parts = [(SPIN_BLOCKS.index("spinless"), errors, mask)]
        else:
            half = spin_block_slices(errors.shape[-1])
            parts = [(index, errors[:, half[index // 2], half[index % 2]], mask[:, half[index // 2], half[index % 2]])
                     for index in range(4)]
        for block, part, part_mask in parts:
            self.spin_sum[slot, block, 0] += (part.real.abs().double() * part_mask).sum()
            if part.is_complex():
                self.spin_sum[slot, block, 1] += (part.imag.abs().double() * part_mask).sum()
            if slot == 0:
                self.spin_count[block] += part_mask.sum()

    def reset(self):
        super().reset()
        self.structure_results = []

    def per_structure(self) -> list:
        """[{label, model_mev, baseline_mev, ratio}] of the structures this process has seen."""
        return [{"label": label, "model_mev": model * 1000.0, "baseline_mev": baseline * 1000.0,
                 "ratio": model / baseline if baseline else None} for label, model, baseline in self.structure_results]

    def compute(self) -> dict:
        to_mev = 1000.0
        count = self.structures.clamp_min(1)
        report = {"gauge_mae_mev": float(self.model_sum / count * to_mev),
                  "baseline_gauge_mae_mev": float(self.baseline_sum / count * to_mev),
                  "structures": int(self.structures), "pairs": int(self.pairs), "entries": int(self.entries),
                  "averaged_over": PAIRS_DESCRIPTION}
        if self.predicted_pairs_structures > 0:
            n = self.predicted_pairs_structures
            report["predicted_pairs"] = {
                "model": float(self.predicted_pairs_sum[0] / n * to_mev),
                "baseline": float(self.predicted_pairs_sum[1] / n * to_mev),
                "averaged_over": "as the headline, over the pairs the members predict (inside the graph and a "
                                 "member's distance range), with the same μ*"}
        spin = {}
        for index, name in enumerate(SPIN_BLOCKS):
            if self.spin_count[index] == 0:
                continue
            n = self.spin_count[index]
            spin[name] = {"model_real": float(self.spin_sum[0, index, 0] / n * to_mev),
                          "model_imag": float(self.spin_sum[0, index, 1] / n * to_mev),
                          "baseline_real": float(self.spin_sum[1, index, 0] / n * to_mev),
                          "baseline_imag": float(self.spin_sum[1, index, 1] / n * to_mev),
                          "entries": int(n)}
        report["spin_blocks"] = spin
        if self.group_of is not None:
            report["groups"] = {name: {"model": float(self.group_sum[0, g] / self.group_structures[g] * to_mev),
                                       "baseline": float(self.group_sum[1, g] / self.group_structures[g] * to_mev),
                                       "structures": int(self.group_structures[g])}
                                for g, name in enumerate(self.group_names) if self.group_structures[g] > 0}
        pairs = {}
        for flat in torch.nonzero(self.pair_count.view(-1)).squeeze(-1).tolist():
            low, high = divmod(flat, MAX_Z)
            n = self.pair_count.view(-1)[flat]
            pairs[f"{element_symbol(low)}-{element_symbol(high)}"] = {
                "model": float(self.pair_sum[0].view(-1)[flat] / n * to_mev),
                "baseline": float(self.pair_sum[1].view(-1)[flat] / n * to_mev)}
        report["element_pairs"] = pairs
        elements = {}
        for low, high in (divmod(f, MAX_Z) for f in torch.nonzero(self.pair_count.view(-1)).squeeze(-1).tolist()):
            for z in {low, high}:  # every block an element takes part in
                elements.setdefault(z, []).append(low * MAX_Z + high)
        report["elements"] = {
            element_symbol(z): {
                "model": float(self.pair_sum[0].view(-1)[flats].sum() / self.pair_count.view(-1)[flats].sum() * to_mev),
                "baseline": float(self.pair_sum[1].view(-1)[flats].sum() / self.pair_count.view(-1)[flats].sum() * to_mev)}
            for z, flats in sorted(elements.items())}
        if self.member_names:
            names = list(self.member_names) + ["kept_h0"]
            report["members"] = {name: {"model": float(self.member_sum[0, k] / self.member_count[k].clamp_min(1) * to_mev),
                                        "baseline": float(self.member_sum[1, k] / self.member_count[k].clamp_min(1) * to_mev),
                                        "entries": int(self.member_count[k])}
                                 for k, name in enumerate(names)}
        return report
