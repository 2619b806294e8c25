"""The ensemble of distance-range members (plain torch modules) and the routing of edges to them.

Every member is a full :class:`~nextham.nn.network.NextHAMNet` that sees the whole graph but
answers only for its own interatomic-distance range [lo, hi); the member with lo = 0 owns the on-site
blocks. The ensemble sums the disjointly masked outputs; edges beyond the last range, and pairs of
the batch beyond its graph cutoff (evaluation batches hold every stored pair), keep H(0).
"""
from __future__ import annotations

import torch

from ..kspace.populations import POPULATION_MESH_LENGTH_ANGSTROM
from .network import NextHAMNet

ONSITE_TOLERANCE = 1e-9


def range_mask(lengths, distance_range):
    low, high = distance_range
    return (lengths >= low - ONSITE_TOLERANCE) & (lengths < high)


class DistanceRangeMember(torch.nn.Module):
    """One member: a network and the distance range [lo, hi) it answers for. Its ΔĤ is zero on every
    other edge. Members are trained inside :class:`~nextham.train.module.NextHAMModule` on the joint
    loss (``members_to_train`` picks some of them)."""

    def __init__(self, name: str, distance_range, slot_ls, spinful_input: bool = False, network: dict | None = None,
                 output_unit_ev: float | None = None):
        """``output_unit_ev``: this member's ΔĤ unit, instead of the network config's (see
        :mod:`nextham.train.output_units`)."""
        super().__init__()
        self.name = name
        self.distance_range = tuple(float(x) for x in distance_range)
        if not self.distance_range[0] < self.distance_range[1]:
            raise ValueError(f"member {name}: empty distance range {list(distance_range)}")
        network = dict(network or {})
        if output_unit_ev is not None:
            network["output_unit_ev"] = float(output_unit_ev)
        self.network = NextHAMNet(slot_ls, spinful_input=spinful_input, **network)

    def edge_mask(self, batch) -> torch.Tensor:
        return range_mask(batch.edge_lengths, self.distance_range)

    def forward(self, batch) -> dict:
        mask = self.edge_mask(batch)
        output = self.network(batch, edge_subset=mask)  # zero beyond the range, which is decoded alone
        output["edge_mask"] = mask
        return output


class NextHAMEnsemble(torch.nn.Module):
    """Routes every edge to the member owning its distance and assembles Ĥ = H(0) + ΔH; edges no
    member covers (beyond the last range, or on-site blocks when no member starts at 0) keep H(0)."""

    def __init__(self, members):
        super().__init__()
        members = sorted(members, key=lambda m: m.distance_range[0])
        for before, after in zip(members, members[1:]):
            if before.distance_range[1] > after.distance_range[0]:
                raise ValueError(f"members {before.name} {list(before.distance_range)} and {after.name} "
                                 f"{list(after.distance_range)} overlap")
        self.members = torch.nn.ModuleList(members)

    @classmethod
    def from_config(cls, config: dict, slot_ls, spinful_input: bool):
        return cls([DistanceRangeMember(m["name"], m["distance_range"], slot_ls, spinful_input, network=config.get("network"),
                                        output_unit_ev=m.get("output_unit_ev"))
                    for m in config["members"]])

    def member_of_edge(self, batch) -> torch.Tensor:
        """Index of the member answering for each edge; −1 where H(0) is kept."""
        lengths = batch.edge_vectors.norm(dim=-1)
        owner = torch.full_like(lengths, -1, dtype=torch.long)
        for index, member in enumerate(self.members):
            owner[range_mask(lengths, member.distance_range)] = index
        graph = batch.graph_edge_mask
        return owner if graph is None else torch.where(graph, owner, -1)

    @property
    def receptive_hops(self) -> int:
        """How many edges away an output block can see: one per transformer block of the deepest member."""
        return max((len(member.network.blocks) for member in self.members), default=0)

    def forward(self, batch, chunk_atoms: int | None = None) -> dict:
        """Ĥ over every pair of ``batch``: the members see the graph (edges within ``batch.graph_cutoff``),
        every other pair keeps H(0). ``chunk_atoms``: run the members on pieces of the graph of that many
        atoms (plus their receptive halo) at a time, which bounds memory for large cells; the result is
        the same as in one piece."""
        graph = batch.graph_edge_mask
        run = self._forward_graph if chunk_atoms is None else (lambda b: self._forward_chunked(b, chunk_atoms))
        if graph is None or bool(graph.all()):
            return run(batch)
        output = run(batch.select_edges(graph))
        delta = torch.zeros_like(batch.hamiltonian_0, dtype=output["delta_hamiltonian"].dtype)
        delta[graph] = output["delta_hamiltonian"]
        owner = torch.full(graph.shape, -1, dtype=torch.long, device=graph.device)
        owner[graph] = output["member_of_edge"]
        trace = None
        if output["trace"] is not None:
            trace = output["trace"].new_zeros(graph.shape[0], output["trace"].shape[-1])
            trace[graph] = output["trace"]
        return {**output, "delta_hamiltonian": delta, "hamiltonian": batch.hamiltonian_0 + delta,
                "member_of_edge": owner, "trace": trace}  # node_invariants: the graph's atoms are all there

    def _forward_chunked(self, batch, chunk_atoms: int) -> dict:
        """:meth:`_forward_graph` piece by piece. A piece is ``chunk_atoms`` consecutive atoms (the core)
        with every atom up to ``receptive_hops`` edges away and the edges among them: features of the core
        and of its first neighbours then see exactly what they see in the whole graph (layer norms act
        per feature vector, attention normalises over a node's incoming edges, all present), so the
        blocks of edges leaving the core, and of their Hermitian partners, are exact. Each edge is
        taken from the piece whose core holds its source atom."""
        source, target = batch.edge_index
        num_atoms = batch.atomic_numbers.shape[0]
        delta = trace = invariants = None
        owner = torch.full_like(source, -1)
        for start in range(0, num_atoms, max(1, int(chunk_atoms))):
            core = torch.zeros(num_atoms, dtype=torch.bool, device=source.device)
            core[start:start + chunk_atoms] = True
            region = core.clone()
            for _ in range(self.receptive_hops):
                region[target[region[source]]] = True
            keep = region[source] & region[target]
            output = self._forward_graph(batch.select_edges(keep))
            edges = keep.nonzero().squeeze(-1)
            mine = core[source[edges]]
            if delta is None:
                delta = output["delta_hamiltonian"].new_zeros((source.shape[0], *output["delta_hamiltonian"].shape[1:]))
            delta[edges[mine]] = output["delta_hamiltonian"][mine]
            owner[edges[mine]] = output["member_of_edge"][mine]
            if output["trace"] is not None:
                trace = output["trace"].new_zeros(source.shape[0], output["trace"].shape[-1]) if trace is None else trace
                trace[edges[mine]] = output["trace"][mine]
            if invariants is None:
                invariants = output["node_invariants"].new_zeros((num_atoms, output["node_invariants"].shape[-1]))
            invariants[core] = output["node_invariants"][core]  # the core's features see their whole receptive field
        return {"delta_hamiltonian": delta, "hamiltonian": batch.hamiltonian_0 + delta, "member_of_edge": owner,
                "trace": trace, "node_invariants": invariants}

    def _forward_graph(self, batch) -> dict:
        delta = None
        traces = []
        invariants = []  # every member's, side by side: each reads the whole graph up to its last block
        for member in self.members:
            output = member(batch)
            invariants.append(output["node_invariants"])
            delta = output["delta_hamiltonian"] if delta is None else delta + output["delta_hamiltonian"]
            if output["trace"] is not None:
                traces.append(output["trace"] * output["edge_mask"][:, None])
        owner = self.member_of_edge(batch)
        return {"delta_hamiltonian": delta, "hamiltonian": batch.hamiltonian_0 + delta,
                "member_of_edge": owner, "trace": sum(traces) if traces else None,
                "node_invariants": torch.cat(invariants, dim=-1)}

    @property
    def reads_populations(self) -> bool:
        """Whether a member reads ``batch.node_populations`` (network.population_input)."""
        return any(member.network.population_input is not None for member in self.members)

    @property
    def population_mesh_length_angstrom(self) -> float:
        """The k-mesh length of the populations the members read (they share one; see the network)."""
        lengths = {member.network.population_mesh_length_angstrom for member in self.members
                   if member.network.population_input is not None}
        if len(lengths) > 1:
            raise ValueError(f"the members read populations on different k-meshes ({sorted(lengths)} Å)")
        return lengths.pop() if lengths else POPULATION_MESH_LENGTH_ANGSTROM

    def routing_report(self, batch) -> dict:
        """How many edges each member predicted, and how many kept H(0)."""
        owner = self.member_of_edge(batch)
        report = {member.name: int((owner == index).sum()) for index, member in enumerate(self.members)}
        report["kept_h0"] = int((owner == -1).sum())
        return report
