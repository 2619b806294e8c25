"""Box-by-box work on the cell's uniform mesh: basis functions of every nearby image evaluated on
the points of one box, the density of a block-diagonal density matrix, and ⟨μ|V|ν⟩ of a potential
sampled on the mesh. Each box touches only the images within reach, so the cost is O(atoms)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from .pairs import lattice_images


@dataclass
class Box:
    index: torch.Tensor   # flat mesh indices of the box's points
    points: torch.Tensor  # [P, 3] Bohr
    atoms: np.ndarray     # images touching the box: atom in the cell
    shifts: np.ndarray    # ... and its lattice shift
    centres: torch.Tensor  # [K, 3]
    distances: np.ndarray  # [K] Bohr, image to the box's centre
    reach: float          # Bohr, the box's centre to its farthest point


class MeshBoxes:
    """The mesh of a cell cut into boxes of about ``box_points`` points per axis."""

    def __init__(self, positions, lattice, symbols, functions, mesh, box_points=8, device="cpu"):
        self.lattice = np.asarray(lattice, dtype=np.float64)
        self.mesh = tuple(int(n) for n in mesh)
        self.symbols = list(symbols)
        self.functions = functions
        self.device = torch.device(device)
        self.width = max(f.num_orbitals for f in functions.values())
        radius = np.array([functions[s].radius for s in self.symbols])
        self.radius = radius
        self.species = np.unique(self.symbols, return_inverse=True)[1].reshape(-1)
        counts = [max(1, int(np.ceil(n / box_points))) for n in self.mesh]
        self.edges = [np.linspace(0, n, c + 1).round().astype(int) for n, c in zip(self.mesh, counts)]
        # half the sum of the largest box's edge vectors bounds every box's centre-to-point distance
        largest = np.diag([np.diff(e).max() for e in self.edges]) / np.asarray(self.mesh)
        box_extent = np.linalg.norm(largest @ self.lattice, axis=1).sum() / 2
        atoms, shifts, cart = lattice_images(positions, self.lattice, radius.max() + box_extent)
        self.image_atoms, self.image_shifts, self.image_cart = atoms, shifts, cart
        self.tree = cKDTree(cart)

    @property
    def num_boxes(self):
        return int(np.prod([len(e) - 1 for e in self.edges]))

    def boxes(self):
        n1, n2, n3 = self.mesh
        e1, e2, e3 = self.edges
        for a in range(len(e1) - 1):
            for b in range(len(e2) - 1):
                for c in range(len(e3) - 1):
                    i, j, k = np.meshgrid(np.arange(e1[a], e1[a + 1]), np.arange(e2[b], e2[b + 1]),
                                          np.arange(e3[c], e3[c + 1]), indexing="ij")
                    frac = np.stack([i.ravel() / n1, j.ravel() / n2, k.ravel() / n3], 1)
                    points = frac @ self.lattice
                    centre = points.mean(0)
                    reach = np.linalg.norm(points - centre, axis=1).max()
                    near = np.asarray(self.tree.query_ball_point(centre, self.radius.max() + reach), dtype=np.int64)
                    atoms = self.image_atoms[near]
                    distances = np.linalg.norm(self.image_cart[near] - centre, axis=1)
                    close = (distances <= self.radius[atoms] + reach) & (self.radius[atoms] > 0)
                    # grouped by element (then image): each element's functions fill one contiguous slice
                    order = np.lexsort((near[close], self.species[self.image_atoms[near[close]]]))
                    near, distances = near[close][order], distances[close][order]
                    yield Box(
                        index=torch.as_tensor(((i * n2 + j) * n3 + k).ravel(), device=self.device),
                        points=torch.as_tensor(points, device=self.device),
                        atoms=self.image_atoms[near], shifts=self.image_shifts[near],
                        centres=torch.as_tensor(self.image_cart[near], device=self.device),
                        distances=distances, reach=float(reach))

    def orbitals(self, box: Box, functions: dict | None = None, images=None) -> torch.Tensor:
        """[P, K·w] values of ``functions`` (default: the mesh's own) of the box's images, or of the
        ``images`` among them (indices), padded to w per atom."""
        functions = self.functions if functions is None else functions
        images = np.arange(len(box.atoms)) if images is None else np.asarray(images)
        values = torch.zeros((len(box.points), len(images), self.width), dtype=box.points.dtype,
                             device=self.device)
        species = self.species[box.atoms[images]]
        starts = np.flatnonzero(np.r_[True, species[1:] != species[:-1]]) if len(images) else []
        for start, end in zip(starts, list(starts[1:]) + [len(images)]):
            chosen = torch.as_tensor(images[start:end], device=self.device)
            fn = functions[self.symbols[box.atoms[images[start]]]]
            fn.evaluate(box.points[:, None, :] - box.centres[chosen][None], out=values[:, start:end, :fn.num_orbitals])
        return values.reshape(len(box.points), -1)

    def density(self, atom_density: dict) -> torch.Tensor:
        """ρ on the mesh (flat, C order) of the block-diagonal density matrix {symbol: D [n, n]}.
        Rotation-invariant atoms (spherically averaged, as the free atoms of H(0) are) are summed as
        radial functions, without evaluating the basis."""
        spherical = {s: self.functions[s].spherical_density(d) for s, d in atom_density.items()}
        if all(f is not None for f in spherical.values()):
            return self.radial_sums([spherical])[0]
        rho = torch.zeros(int(np.prod(self.mesh)), dtype=torch.float64, device=self.device)
        padded = {}
        for symbol, matrix in atom_density.items():
            block = torch.zeros((self.width, self.width), dtype=torch.float64, device=self.device)
            block[:len(matrix), :len(matrix)] = torch.as_tensor(matrix, device=self.device)
            padded[symbol] = block
        for box in self.boxes():
            if not len(box.atoms):
                continue
            phi = self.orbitals(box).reshape(len(box.points), len(box.atoms), self.width)
            dm = torch.stack([padded[self.symbols[a]] for a in box.atoms])
            rho[box.index] += torch.einsum("pkm,kmn,pkn->p", phi, dm, phi)
        return rho

    def radial_sums(self, functions: list, radii: dict | None = None) -> list:
        """For each {symbol: f(r²)} in ``functions``, Σ over images of f(|r − R|²) on the mesh (flat);
        each f must vanish beyond the element's basis radius, or beyond ``radii[symbol]`` where given."""
        size = int(np.prod(self.mesh))
        out = [torch.zeros(size, dtype=torch.float64, device=self.device) for _ in functions]
        symbols_all = np.array(self.symbols)
        for box in self.boxes():
            if not len(box.atoms):
                continue
            # |p − c|² as |p|² + |c|² − 2 p·c: one matmul; the rounding (1e-13 Bohr² here) is harmless
            # inside exp(−α r²)
            r2 = ((box.points * box.points).sum(1)[:, None] + (box.centres * box.centres).sum(1)[None]
                  - 2.0 * box.points @ box.centres.T).clamp_(min=0.0)
            symbols = symbols_all[box.atoms]
            for symbol in np.unique(symbols):
                which = symbols == symbol
                if radii is not None:
                    which &= box.distances <= radii[symbol] + box.reach
                if not which.any():
                    continue
                near = r2[:, torch.as_tensor(np.flatnonzero(which), device=self.device)]
                for total, radial in zip(out, functions):
                    total[box.index] += radial[symbol](near).sum(1)
        return out

    def potential_matrices(self, weighted_potentials: torch.Tensor, pair_blocks: list, progress=None):
        """Add Σ_r w V_n(r) φ_μ(r) φ_ν(r), over the mesh points unrolled over all space, into the
        blocks of ``pair_blocks[n]``, for each row of ``weighted_potentials`` [n, points]
        (V × cell volume / mesh points); the basis functions are evaluated once for all."""
        for box in self.boxes():
            if len(box.atoms):
                phi = self.orbitals(box)
                pairs = pair_blocks[0].image_pairs(box.atoms, box.shifts)
                for potential, target in zip(weighted_potentials, pair_blocks):
                    target.add_tiles(phi.T @ (potential[box.index, None] * phi), pairs)
            if progress is not None:
                progress.update()
