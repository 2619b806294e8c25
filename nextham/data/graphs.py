"""From stored records to padded graph batches for the model.

A sample is one structure as a few flat numpy arrays (cheap to pass between DataLoader workers);
:func:`collate_graphs` scatters the blocks of several samples into padded per-edge tensors
(``E × P × P``, or ``E × 2P × 2P`` spin-major when spinful) with masks for padded orbitals.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .layout import OrbitalLayout
from .record import HamiltonianRecord

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

    @property
    def num_structures(self) -> int:
        return len(self.labels)

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


def record_to_sample(record: HamiltonianRecord, spinful: bool, max_edge_length: float | None = None) -> dict:
    """Flat numpy sample of one structure; spinless records in a spinful dataset become H ⊗ I₂."""
    if max_edge_length is not None:
        keep = record.edge_distances() <= max_edge_length + 1e-9
        if not keep.all():
            record = record.select_edges(keep)
    blocks = {}
    for kind in ("hamiltonian_0", "hamiltonian"):
        matrices = record.blocks(kind)
        if spinful and not record.spinful:
            matrices = [np.kron(np.eye(2), m) for m in matrices]
        blocks[kind] = matrices
    blocks["overlap"] = record.blocks("overlap")
    if record.spinful and not spinful:
        raise ValueError(f"structure {record.label!r} is spinful but the data module runs spinless (spin_mode)")
    return {
        "label": record.label, "atomic_numbers": record.atomic_numbers, "positions": record.positions,
        "lattice": record.lattice, "edge_index": record.edge_index, "cell_shifts": record.cell_shifts,
        "edge_vectors": record.edge_vectors(), "blocks": blocks, "fermi_energy": record.fermi_energy,
    }


def collate_graphs(samples, layout: OrbitalLayout, spinful: bool, dtype=torch.float64) -> HamiltonianBatch:
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
    edge_offset = atom_offset = 0
    edge_index, node_batch, edge_batch, reverse_edge = [], [], [], []
    for structure, sample in enumerate(samples):
        positions = [layout.orbital_positions(z) for z in sample["atomic_numbers"]]
        for atom, position in enumerate(positions):
            node_mask[atom_offset + atom, position] = True
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
        lookup = {(int(i), int(j), *map(int, r)): e
                  for e, ((i, j), r) in enumerate(zip(sample["edge_index"], sample["cell_shifts"]))}
        reverse_edge.append(np.array([lookup[(j, i, *(-r for r in shift))] for (i, j, *shift) in lookup]) + edge_offset)
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
    )


def unpad_blocks(padded: torch.Tensor, batch: HamiltonianBatch, layout: OrbitalLayout) -> list:
    """Per structure, the list of per-edge blocks of ``padded`` (E, B, B) without padded orbitals —
    the inverse of :func:`collate_graphs` for one matrix (e.g. a predicted Ĥ)."""
    padded = padded.detach().cpu().numpy()
    size = layout.num_orbitals
    out, edge_start, atom_start = [], 0, 0
    for structure in range(batch.num_structures):
        natoms, nedges = int(batch.num_atoms[structure]), int(batch.num_edges[structure])
        numbers = batch.atomic_numbers[atom_start:atom_start + natoms].tolist()
        positions = [layout.orbital_positions(z) for z in numbers]
        if batch.spinful:
            positions = [np.concatenate([p, p + size]) for p in positions]
        blocks = []
        for e in range(edge_start, edge_start + nedges):
            i, j = (batch.edge_index[:, e] - atom_start).tolist()
            blocks.append(padded[e][np.ix_(positions[i], positions[j])])
        out.append(blocks)
        edge_start += nedges
        atom_start += natoms
    return out
