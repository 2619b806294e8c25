"""From stored records to padded graph batches for the model, and back.

A sample is one structure as a few flat numpy arrays (cheap to pass between DataLoader workers);
:func:`collate_graphs` scatters the blocks of several samples into padded per-edge tensors
(``E × P × P``, or ``E × 2P × 2P`` spin-major when spinful) with masks for padded orbitals.

A batch may hold more pairs than the network's graph: evaluation batches hold every stored pair of
a structure, and only the edges within ``graph_cutoff`` are handed to the network (the rest keep
H(0)). :func:`structure_blocks` gives one structure back in its own representation — spinless real
blocks for a spinless structure that entered a spinful batch as H ⊗ I₂.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

from ..conventions import spin_diagonal, spin_scalar_part
from ..errors import DataError
from .layout import OrbitalLayout
from ..record import HamiltonianRecord, partner_edges

SPIN_MODES = ("auto", "spinless", "spinful")


@dataclass
class HamiltonianBatch:
    """Several structures as one disconnected graph (tensors; node/edge indices are global).

    Blocks are padded to the dataset's :class:`~nextham.data.layout.OrbitalLayout`. With spinful
    batches ``hamiltonian_0``/``hamiltonian`` are complex (E, 2P, 2P) spin-major and ``overlap`` stays
    real (E, P, P); ``orbital_mask`` has the Hamiltonian's shape, ``overlap_mask`` the overlap's."""

    labels: list
    atomic_numbers: torch.Tensor      # (N,)
    positions: torch.Tensor           # (N, 3) Å
    node_batch: torch.Tensor          # (N,) structure of each atom
    lattice: torch.Tensor             # (B, 3, 3) Å, rows
    edge_index: torch.Tensor          # (2, E) global atom indices (i, j)
    cell_shifts: torch.Tensor         # (E, 3) integer R
    edge_vectors: torch.Tensor        # (E, 3) Å, τ_j + R·L − τ_i
    edge_batch: torch.Tensor          # (E,)
    reverse_edge: torch.Tensor        # (E,) index of the edge (j, i, −R): H_ji(−R) = H_ij(R)†
    hamiltonian_0: torch.Tensor       # (E, P', P') eV
    hamiltonian: torch.Tensor         # (E, P', P') eV
    overlap: torch.Tensor             # (E, P, P)
    orbital_mask: torch.Tensor        # (E, P', P') bool
    overlap_mask: torch.Tensor        # (E, P, P) bool
    node_orbital_mask: torch.Tensor   # (N, P) bool
    num_atoms: torch.Tensor           # (B,)
    num_edges: torch.Tensor           # (B,)
    spinful: bool = False
    fermi_energy: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    structure_spinful: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))  # (B,)
    graph_cutoff: float | None = None  # Å; edges beyond it are not given to the network
    slot_ls: tuple = ()               # l of every shell slot of the padded layout (OrbitalLayout.slot_ls)
    node_populations: torch.Tensor = field(default_factory=lambda: torch.zeros(0))  # (N, P) electrons per
    # orbital when H(0)'s bands are filled (kspace.populations), zero on padded orbitals; NaN when not computed
    node_valence: torch.Tensor = field(default_factory=lambda: torch.zeros(0))  # (N,) electrons of the neutral
    # atom (ElementBasis.valence_electrons), NaN where the pseudopotential's name does not say

    @property
    def num_structures(self) -> int:
        return len(self.labels)

    @property
    def graph_edge_mask(self) -> torch.Tensor | None:
        """Edges the network sees (None: all of them)."""
        if self.graph_cutoff is None:
            return None
        return self.edge_lengths <= self.graph_cutoff + 1e-9

    def select_edges(self, keep: torch.Tensor) -> "HamiltonianBatch":
        """The same structures with only the edges where ``keep`` (E,) is true; ``keep`` must hold the
        Hermitian partner of every edge it holds (a distance cutoff does)."""
        index = torch.cumsum(keep.long(), 0) - 1
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("cell_shifts", "edge_vectors", "edge_batch", "hamiltonian_0", "hamiltonian", "overlap",
                     "orbital_mask", "overlap_mask"):
            values[name] = values[name][keep]
        values["edge_index"] = self.edge_index[:, keep]
        values["reverse_edge"] = index[self.reverse_edge[keep]]
        values["num_edges"] = torch.bincount(self.edge_batch[keep], minlength=self.num_structures)
        return HamiltonianBatch(**values)

    def structure_slices(self) -> list:
        """(edge slice, atom slice) of every structure."""
        edge_ptr = np.concatenate([[0], np.cumsum(self.num_edges.cpu().numpy())])
        atom_ptr = np.concatenate([[0], np.cumsum(self.num_atoms.cpu().numpy())])
        return [(slice(edge_ptr[s], edge_ptr[s + 1]), slice(atom_ptr[s], atom_ptr[s + 1]))
                for s in range(self.num_structures)]

    @property
    def edge_lengths(self) -> torch.Tensor:
        return self.edge_vectors.norm(dim=-1)

    @property
    def delta_hamiltonian(self) -> torch.Tensor:
        """The regression target ΔH = H(T) − H(0)."""
        return self.hamiltonian - self.hamiltonian_0

    def to(self, device):
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return HamiltonianBatch(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in values.items()})


def record_to_sample(record: HamiltonianRecord, spinful: bool, max_edge_length: float | None = None,
                     populations: np.ndarray | None = None) -> dict:
    """Flat numpy sample of one structure; spinless records in a spinful dataset become H ⊗ I₂.
    ``max_edge_length``: keep only the pairs up to this distance (None: every stored pair).
    ``populations``: the record's :func:`~nextham.kspace.populations.mulliken_populations` (of every
    stored pair, so computed before any cutoff) for a network that reads them; None: NaN, not computed."""
    if not record.has_hamiltonian_0:
        raise DataError(NO_H0_MESSAGE, structure=record.label)
    if populations is None:
        populations = np.full(int(np.sum(record.orbital_counts)), np.nan)
    if max_edge_length is not None:
        keep = record.edge_distances() <= max_edge_length + 1e-9
        if not keep.all():
            record = record.select_edges(keep)
    blocks = {}
    for kind in ("hamiltonian_0", "hamiltonian"):
        matrices = record.blocks(kind)
        if spinful and not record.spinful:
            matrices = [spin_diagonal(m) for m in matrices]
        blocks[kind] = matrices
    blocks["overlap"] = record.blocks("overlap")
    if record.spinful and not spinful:
        raise ValueError(f"structure {record.label!r} is spinful but the data module runs spinless (spin_mode)")
    return {
        "label": record.label, "atomic_numbers": record.atomic_numbers, "positions": record.positions,
        "lattice": record.lattice, "edge_index": record.edge_index, "cell_shifts": record.cell_shifts,
        "edge_vectors": record.edge_vectors(), "blocks": blocks, "fermi_energy": record.fermi_energy,
        "spinful": record.spinful, "populations": populations,
    }


NO_H0_MESSAGE = ("this dataset holds no H(0) (DFT data imported without hamiltonian_0.h5): the network takes "
                 "H(0) as its input, so it can neither train nor predict on it. Compute H(0) with the PySCF "
                 "engine (`nextham data generate`) or export it from your DFT code as hamiltonian_0.h5 beside "
                 "hamiltonian.h5; `nextham data inspect` and band plots work on the data as it is")


def collate_graphs(samples, layout: OrbitalLayout, spinful: bool, dtype=torch.float64,
                   graph_cutoff: float | None = None) -> HamiltonianBatch:
    padded = layout.num_orbitals
    size = 2 * padded if spinful else padded
    num_edges = [len(s["edge_index"]) for s in samples]
    num_atoms = [len(s["atomic_numbers"]) for s in samples]
    total_edges = sum(num_edges)
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    h_dtype = complex_dtype if spinful else dtype
    hamiltonian_0 = np.zeros((total_edges, size, size), dtype=np.complex128 if spinful else np.float64)
    hamiltonian = np.zeros_like(hamiltonian_0)
    overlap = np.zeros((total_edges, padded, padded))
    orbital_mask = np.zeros((total_edges, size, size), dtype=bool)
    overlap_mask = np.zeros((total_edges, padded, padded), dtype=bool)
    node_mask = np.zeros((sum(num_atoms), padded), dtype=bool)
    node_populations = np.zeros((sum(num_atoms), padded))
    valence = {}
    for z in {int(z) for s in samples for z in s["atomic_numbers"]}:
        electrons = layout.basis.for_atomic_number(z).valence_electrons
        valence[z] = np.nan if electrons is None else float(electrons)
    edge_offset = atom_offset = 0
    edge_index, node_batch, edge_batch, reverse_edge = [], [], [], []
    for structure, sample in enumerate(samples):
        positions = [layout.orbital_positions(z) for z in sample["atomic_numbers"]]
        first = np.concatenate([[0], np.cumsum([len(p) for p in positions])])
        for atom, position in enumerate(positions):
            node_mask[atom_offset + atom, position] = True
            node_populations[atom_offset + atom, position] = sample["populations"][first[atom]:first[atom + 1]]
        for e, (i, j) in enumerate(sample["edge_index"]):
            rows, cols = positions[i], positions[j]
            if spinful:
                rows, cols = np.concatenate([rows, rows + padded]), np.concatenate([cols, cols + padded])
            index = np.ix_(rows, cols)
            hamiltonian_0[edge_offset + e][index] = sample["blocks"]["hamiltonian_0"][e]
            hamiltonian[edge_offset + e][index] = sample["blocks"]["hamiltonian"][e]
            orbital_mask[edge_offset + e][index] = True
            spatial = np.ix_(positions[i], positions[j])
            overlap[edge_offset + e][spatial] = sample["blocks"]["overlap"][e]
            overlap_mask[edge_offset + e][spatial] = True
        reverse_edge.append(partner_edges(sample["edge_index"], sample["cell_shifts"]) + edge_offset)
        edge_index.append(np.asarray(sample["edge_index"]) + atom_offset)
        node_batch.append(np.full(num_atoms[structure], structure))
        edge_batch.append(np.full(num_edges[structure], structure))
        edge_offset += num_edges[structure]
        atom_offset += num_atoms[structure]
    cat = lambda key: np.concatenate([np.asarray(s[key]) for s in samples])
    return HamiltonianBatch(
        labels=[s["label"] for s in samples],
        atomic_numbers=torch.as_tensor(cat("atomic_numbers"), dtype=torch.long),
        positions=torch.as_tensor(cat("positions"), dtype=dtype),
        node_batch=torch.as_tensor(np.concatenate(node_batch), dtype=torch.long),
        lattice=torch.as_tensor(np.stack([s["lattice"] for s in samples]), dtype=dtype),
        edge_index=torch.as_tensor(np.concatenate(edge_index).T.copy(), dtype=torch.long),
        cell_shifts=torch.as_tensor(cat("cell_shifts"), dtype=torch.long),
        edge_vectors=torch.as_tensor(cat("edge_vectors"), dtype=dtype),
        edge_batch=torch.as_tensor(np.concatenate(edge_batch), dtype=torch.long),
        reverse_edge=torch.as_tensor(np.concatenate(reverse_edge), dtype=torch.long),
        hamiltonian_0=torch.as_tensor(hamiltonian_0).to(h_dtype),
        hamiltonian=torch.as_tensor(hamiltonian).to(h_dtype),
        overlap=torch.as_tensor(overlap, dtype=dtype),
        orbital_mask=torch.as_tensor(orbital_mask),
        overlap_mask=torch.as_tensor(overlap_mask),
        node_orbital_mask=torch.as_tensor(node_mask),
        num_atoms=torch.as_tensor(num_atoms, dtype=torch.long),
        num_edges=torch.as_tensor(num_edges, dtype=torch.long),
        spinful=spinful,
        fermi_energy=torch.as_tensor([s["fermi_energy"] for s in samples], dtype=dtype),
        structure_spinful=torch.as_tensor([bool(s.get("spinful", spinful)) for s in samples], dtype=torch.bool),
        graph_cutoff=graph_cutoff,
        slot_ls=tuple(layout.slot_ls),
        node_populations=torch.as_tensor(node_populations, dtype=dtype),
        node_valence=torch.as_tensor([valence[int(z)] for z in cat("atomic_numbers")], dtype=dtype),
    )


def structure_blocks(batch: HamiltonianBatch, index: int, predicted: torch.Tensor | None = None) -> dict:
    """Structure ``index`` of ``batch`` in its own representation: ``predicted`` (Ĥ, default H(T)),
    ``hamiltonian``, ``hamiltonian_0``, ``overlap`` (sized like the Hamiltonian: S ⊗ I₂ for a
    spin–orbit structure), ``mask``, ``node_mask`` (N, n), local ``edge_index`` (2, E), ``cell_shifts``,
    ``edges`` (slice into the batch) and ``spinful``.

    A spinless structure in a spinful batch entered as H ⊗ I₂; it comes back as its real spinless
    blocks, the spin-scalar part Re(H↑↑ + H↓↓)/2 (exactly H for the data; for a prediction the part a
    spinless Hamiltonian can hold)."""
    edges, atoms = batch.structure_slices()[index]
    predicted = batch.hamiltonian if predicted is None else predicted
    matrices = {"predicted": predicted[edges], "hamiltonian": batch.hamiltonian[edges],
                "hamiltonian_0": batch.hamiltonian_0[edges]}
    mask, node_mask = batch.orbital_mask[edges], batch.node_orbital_mask[atoms]
    spinful = bool(batch.structure_spinful[index]) if len(batch.structure_spinful) else batch.spinful
    overlap = batch.overlap[edges]
    if batch.spinful and not spinful:
        size = overlap.shape[-1]
        matrices = {k: spin_scalar_part(m) for k, m in matrices.items()}
        mask = mask[:, :size, :size]
    elif spinful:
        overlap = spin_diagonal(overlap)
        node_mask = torch.cat([node_mask, node_mask], dim=-1)
    return {**matrices, "overlap": overlap, "mask": mask, "node_mask": node_mask, "spinful": spinful,
            "edge_index": batch.edge_index[:, edges] - atoms.start, "cell_shifts": batch.cell_shifts[edges],
            "edges": edges, "num_atoms": int(batch.num_atoms[index]), "label": batch.labels[index]}


def unpad_blocks(padded: torch.Tensor, batch: HamiltonianBatch, layout: OrbitalLayout) -> list:
    """Per structure, the list of per-edge blocks of ``padded`` (E, B, B) without padded orbitals, each
    structure in its own representation (:func:`structure_blocks`) — the inverse of
    :func:`collate_graphs` for one matrix (e.g. a predicted Ĥ)."""
    out, atom_start = [], 0
    for structure in range(batch.num_structures):
        view = structure_blocks(batch, structure, padded.detach())
        natoms = view["num_atoms"]
        numbers = batch.atomic_numbers[atom_start:atom_start + natoms].tolist()
        positions = [layout.orbital_positions(z) for z in numbers]
        if view["spinful"]:
            positions = [np.concatenate([p, p + layout.num_orbitals]) for p in positions]
        blocks = view["predicted"].cpu().numpy()
        out.append([blocks[e][np.ix_(positions[i], positions[j])] for e, (i, j) in enumerate(view["edge_index"].T.tolist())])
        atom_start += natoms
    return out
