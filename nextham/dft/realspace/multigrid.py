"""⟨μ|V|ν⟩ on two meshes. Each contracted function is split into its tight primitives T and its
diffuse ones D (φ = T + D), at the exponent where the products D·D are smooth enough for a mesh of
half the points per axis: their Fourier series has fallen below ``tolerance`` where that mesh ends.
There they are summed against the potential cut to the same Fourier components, which is the fine
mesh's sum up to that tolerance. Every product with a tight primitive stays on the engine's mesh;
T falls off within a few Bohr, so a box there pairs only its few nearby T images with all functions.

The diffuse tails set the basis radius, so the one-mesh sum pairs every function with every other
one on every point they share; here that happens on an eighth of the points."""
from __future__ import annotations

import math

import numpy as np
import torch

from .grid import MeshBoxes
from .orbitals import radial_radius, tabulated


def coarse_mesh(mesh) -> tuple:
    return tuple(max(1, (int(n) + 1) // 2) for n in mesh)


def band_radius(lattice, mesh) -> float:
    """Radius (Bohr⁻¹) of the largest sphere of G vectors a mesh holds: its faces are π n_i / |a_i|
    from the origin (frequencies below the Nyquist one)."""
    lengths = np.linalg.norm(np.asarray(lattice, dtype=np.float64), axis=1)
    return float(min(2 * math.pi * ((int(n) - 1) // 2) / length for n, length in zip(mesh, lengths)))


def diffuse_limit(lattice, mesh, tolerance: float) -> float:
    """The largest exponent α whose products (exponent ≤ 2α, Fourier series ∝ exp(−G²/8α)) have
    fallen to ``tolerance`` at the coarse mesh's band radius."""
    radius = band_radius(lattice, coarse_mesh(mesh))
    return radius ** 2 / (8 * math.log(1 / tolerance))


def resample(values: torch.Tensor, mesh) -> torch.Tensor:
    """A periodic function sampled on ``values``' mesh, sampled on another ``mesh`` through the Fourier
    components both hold below their Nyquist frequencies: on a coarser mesh its cut to them, on a
    finer one its trigonometric interpolation."""
    spectrum = torch.fft.fftn(values)
    source_index, target_index = [], []
    for n, c in zip(values.shape, mesh):
        half = (min(n, c) - 1) // 2
        m = np.arange(-half, half + 1)
        source_index.append(torch.as_tensor(m % n, device=values.device))
        target_index.append(torch.as_tensor(m % c, device=values.device))
    out = torch.zeros(tuple(int(c) for c in mesh), dtype=spectrum.dtype, device=values.device)
    s1, s2, s3 = torch.meshgrid(*source_index, indexing="ij")
    t1, t2, t3 = torch.meshgrid(*target_index, indexing="ij")
    out[t1, t2, t3] = spectrum[s1, s2, s3] * (float(np.prod(mesh)) / values.numel())
    return torch.fft.ifftn(out).real


class TwoMeshes:
    """The split of a cell's functions and the boxes of both meshes; ``available`` is False when
    the split leaves nothing on one side (then one mesh is as fast)."""

    def __init__(self, fine: MeshBoxes, positions, lattice, threshold: float, tolerance: float, box_points: int = 8):
        self.fine, self.lattice = fine, np.asarray(lattice, dtype=np.float64)
        self.coarse_mesh = coarse_mesh(fine.mesh)
        self.alpha = diffuse_limit(self.lattice, fine.mesh, tolerance)
        self.tight = {s: f.restricted(lambda e: e > self.alpha, threshold) for s, f in fine.functions.items()}
        self.diffuse = {s: f.restricted(lambda e: e <= self.alpha, threshold) for s, f in fine.functions.items()}
        self.available = (any(f.radius > 0 for f in self.diffuse.values())
                          and any(f.radius > 0 for f in self.tight.values()))
        if not self.available:
            return
        self.tight_radius = np.array([self.tight[s].radius for s in fine.symbols])
        self.coarse = MeshBoxes(positions, self.lattice, fine.symbols, self.diffuse, self.coarse_mesh,
                                box_points=box_points, device=fine.device)

    def density(self, atom_density: dict, threshold: float = 1e-16):
        """ρ on the fine mesh ([n1, n2, n3]) of rotation-invariant atoms {symbol: D}: the diffuse
        primitives' part summed on the coarse mesh and interpolated, the rest (which has a tight
        factor) on the fine one within its own radius; None when an atom is not rotation invariant."""
        parts = {s: self.fine.functions[s].spherical_density(d, split_at=self.alpha) for s, d in atom_density.items()}
        if any(part is None for part in parts.values()):
            return None
        radii = {s: radial_radius(part[1], threshold) for s, part in parts.items()}
        diffuse = {s: tabulated(part[0], self.diffuse[s].radius) for s, part in parts.items()}
        rest = {s: tabulated(part[1], radii[s]) for s, part in parts.items()}
        fine = self.fine.radial_sums([rest], radii=radii)[0].reshape(self.fine.mesh)
        coarse = self.coarse.radial_sums([diffuse])[0].reshape(self.coarse_mesh)
        return fine + resample(coarse, self.fine.mesh)

    @property
    def num_boxes(self):
        return self.fine.num_boxes + self.coarse.num_boxes

    def potential_matrices(self, potentials: torch.Tensor, pair_blocks: list, progress=None):
        """∫ φ_μ V_n φ_ν (mesh sums) into ``pair_blocks[n]`` (zero on entry) for each potential
        ``potentials[n]`` [n, n1, n2, n3] on the fine mesh. Each half of a pair's block is summed
        once, on the side of its tight function, and the blocks are completed by their transposed
        partners."""
        volume = abs(np.linalg.det(self.lattice))
        fine = potentials.reshape(len(potentials), -1) * (volume / potentials[0].numel())
        coarse = torch.stack([resample(v, self.coarse_mesh) for v in potentials]).reshape(len(potentials), -1)
        coarse = coarse * (volume / float(np.prod(self.coarse_mesh)))
        if any(bool(blocks.blocks.any()) for blocks in pair_blocks):
            raise ValueError("the two-mesh sums complete blocks from their halves: give zero pair blocks")
        w = self.fine.width
        for box in self.fine.boxes():
            radius = self.tight_radius[box.atoms]
            near = np.flatnonzero((box.distances <= radius + box.reach) & (radius > 0)) if len(box.atoms) else []
            if len(near):
                # φ = D everywhere, + T on the images near enough for their tight primitives
                phi = self.fine.orbitals(box, self.diffuse).reshape(len(box.points), len(box.atoms), w)
                tight = self.fine.orbitals(box, self.tight, near)
                phi[:, torch.as_tensor(near, device=phi.device)] += tight.reshape(len(box.points), len(near), w)
                phi = phi.reshape(len(box.points), -1)
                across = pair_blocks[0].image_pairs(box.atoms[near], box.shifts[near], box.atoms, box.shifts)
                among = pair_blocks[0].image_pairs(box.atoms[near], box.shifts[near])
                for potential, target in zip(fine, pair_blocks):
                    weighted = potential[box.index, None] * tight
                    # ⟨T_k|V|φ_l⟩ − ½⟨T_k|V|T_l⟩: with its transpose, T·T + T·D + D·T
                    target.add_tiles(weighted.T @ phi, across)
                    target.add_tiles(-0.5 * (weighted.T @ tight), among)
            if progress is not None:
                progress.update()
        for box in self.coarse.boxes():
            if len(box.atoms):
                phi = self.coarse.orbitals(box)
                pairs = pair_blocks[0].image_pairs(box.atoms, box.shifts)
                for potential, target in zip(coarse, pair_blocks):
                    target.add_tiles(0.5 * (phi.T @ (potential[box.index, None] * phi)), pairs)
            if progress is not None:
                progress.update()
        for target in pair_blocks:
            target.add_transposed_partners()

