"""The pairs (i, j, R) a builder fills, lattice images around a region, and the scatter of a
matrix over images into pair blocks."""
from __future__ import annotations

import numpy as np
import torch

from ...kspace.local import pair_codes


class PairBlocks:
    """Accumulator of blocks for a fixed pair list: atom i in cell 0, atom j in cell R, with
    |τ_j + R − τ_i| ≤ cutoff (on-site blocks included); every block padded to the largest
    per-atom orbital count."""

    def __init__(self, positions, lattice, cutoff, orbital_counts, device="cpu", dtype=torch.float64):
        from ase.neighborlist import primitive_neighbor_list

        self.positions = np.asarray(positions, dtype=np.float64)
        self.lattice = np.asarray(lattice, dtype=np.float64)
        first, second, shifts, distances = primitive_neighbor_list(
            "ijSd", (True, True, True), self.lattice, self.positions, float(cutoff), self_interaction=True)
        order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], second, first))
        self.first, self.second = first[order], second[order]
        self.shifts, self.distances = shifts[order].astype(np.int64), distances[order]
        self.natoms = len(self.positions)
        self.orbital_counts = np.asarray(orbital_counts, dtype=np.int64)
        self.width = int(self.orbital_counts.max())
        self.codes = self.encode(self.first, self.second, self.shifts)
        assert np.all(np.diff(self.codes) > 0)
        self.device, self.dtype = torch.device(device), dtype
        self.blocks = torch.zeros((len(self.codes), self.width, self.width), dtype=dtype, device=self.device)

    def zeros_like(self) -> "PairBlocks":
        """Another accumulator over the same pairs, all blocks zero."""
        other = object.__new__(PairBlocks)
        other.__dict__.update(self.__dict__)
        other.blocks = torch.zeros_like(self.blocks)
        return other

    def encode(self, first, second, shifts):
        return pair_codes(first, second, shifts, self.natoms)

    def lookup(self, first, second, shifts):
        """Index of each pair in the list, −1 for pairs beyond the cutoff."""
        code = self.encode(first, second, shifts)
        index = np.searchsorted(self.codes, code)
        index = np.minimum(index, len(self.codes) - 1)
        return np.where(self.codes[index] == code, index, -1)

    def image_pairs(self, atoms: np.ndarray, shifts: np.ndarray, column_atoms: np.ndarray | None = None,
                    column_shifts: np.ndarray | None = None) -> tuple:
        """Where the w×w tiles of a [K·w, L·w] matrix between images (atoms[k], shifts[k]) and
        (column_atoms[l], column_shifts[l]) (default: the same images) go: the pairs (atoms[k],
        column_atoms[l], column_shifts[l] − shifts[k]) that are in the list, as (K, L, tile positions,
        pair indices); the same for every accumulator over this pair list."""
        if column_atoms is None:
            column_atoms, column_shifts = atoms, shifts
        rows, columns = len(atoms), len(column_atoms)
        k, l = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        k, l = k.ravel(), l.ravel()
        index = self.lookup(atoms[k], column_atoms[l], column_shifts[l] - shifts[k])
        keep = np.flatnonzero(index >= 0)
        return (rows, columns, torch.as_tensor(keep, device=self.blocks.device),
                torch.as_tensor(index[keep], device=self.blocks.device))

    def add_tiles(self, matrix: torch.Tensor, pairs: tuple):
        """Add the tiles of ``matrix`` into the blocks :meth:`image_pairs` found for them."""
        rows, columns, selected, targets = pairs
        if not len(targets):
            return
        w = self.width
        tiles = matrix.reshape(rows, w, columns, w).permute(0, 2, 1, 3).reshape(rows * columns, w, w)
        self.blocks.index_add_(0, targets, tiles.index_select(0, selected).to(self.dtype))

    def add_over_images(self, matrix: torch.Tensor, atoms: np.ndarray, shifts: np.ndarray,
                        column_atoms: np.ndarray | None = None, column_shifts: np.ndarray | None = None):
        """Add ``matrix`` [K·w, L·w] between two lists of images into the blocks of their pairs
        (:meth:`image_pairs`)."""
        self.add_tiles(matrix, self.image_pairs(atoms, shifts, column_atoms, column_shifts))

    def add_transposed_partners(self, chunk: int = 65536):
        """blocks(i, j, R) += blocks(j, i, −R)ᵀ for every pair, in place: a half accumulated on one side
        of each pair becomes the whole hermitian block. Each pair and its partner are done together,
        ``chunk`` pairs at a time, so no second set of blocks is held."""
        partner = self.lookup(self.second, self.first, -self.shifts)
        if np.any(partner < 0):
            raise ValueError("the pair list lacks the partner (j, i, −R) of some pair")
        leading = np.flatnonzero(np.arange(len(partner)) <= partner)
        for start in range(0, len(leading), chunk):
            mine = torch.as_tensor(leading[start:start + chunk], device=self.blocks.device)
            theirs = torch.as_tensor(partner[leading[start:start + chunk]], device=self.blocks.device)
            total = self.blocks[mine] + self.blocks[theirs].transpose(1, 2)
            self.blocks[mine] = total
            self.blocks[theirs] = total.transpose(1, 2)


def lattice_images(positions, lattice, margin):
    """Every image τ_a + S·lattice lying within ``margin`` of the cell's parallelepiped:
    (atoms [M], shifts [M, 3], cartesian [M, 3])."""
    lattice = np.asarray(lattice, dtype=np.float64)
    volume = abs(np.linalg.det(lattice))
    spacing = volume / np.linalg.norm(np.cross(lattice[[1, 2, 0]], lattice[[2, 0, 1]]), axis=1)
    reach = np.ceil(margin / spacing).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-n, n + 1) for n in reach], indexing="ij"), -1).reshape(-1, 3)
    fractional = np.asarray(positions) @ np.linalg.inv(lattice)
    atoms = np.repeat(np.arange(len(positions)), len(grid))
    shifts = np.tile(grid, (len(positions), 1))
    frac = fractional[atoms] + shifts
    # the distance to the cell is at least the largest distance beyond one of its face planes
    outside = np.maximum(0.0, np.maximum(-frac, frac - 1.0)) * spacing
    keep = outside.max(axis=1) <= margin + 1e-9
    atoms, shifts = atoms[keep], shifts[keep]
    return atoms, shifts, np.asarray(positions)[atoms] + shifts @ lattice
