"""RealSpaceBuilder: S, H[ρ(0)] and H[ρ] blocks of every pair within the cutoff for one PySCF cell
(GTH pseudopotentials, spinless), in Hartree and PySCF's AO order."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .analytic import ClusterIntegrals, pseudopotential, two_centre
from .grid import MeshBoxes
from .multigrid import TwoMeshes
from .orbitals import element_functions
from .pairs import PairBlocks
from .potential import local_potential, pseudo_charge_density


def memory_estimate(lattice_bohr, ke_cutoff_hartree, pairs: int, width: int, box_points: int = 8,
                    box_images: int = 400) -> float:
    """Peak bytes of a build: five sets of padded pair blocks (S, T, pseudopotential, H(0), H(T)),
    fourteen float64 arrays over the mesh (density, pseudo-charges, gradients, V_xc and a complex FFT:
    the GGA potential's peak; 1,024 Si atoms rose 1.6 GB above the interpreter, 16 arrays of their
    13M-point mesh with the pair blocks), and one box's basis-function values over the images within reach."""
    from pyscf.pbc.tools import cutoff_to_mesh

    points = float(np.prod(cutoff_to_mesh(np.asarray(lattice_bohr), ke_cutoff_hartree)))
    return 5 * pairs * width * width * 8 + 14 * points * 8 + 4 * box_points ** 3 * box_images * width * 8


class RealSpaceBuilder:
    """One cell's pair list, basis functions on its mesh and density-independent blocks.

    ``threshold``: basis functions are dropped where they fall below it (sets each element's
    radius); ``box_points``: mesh points per box edge; ``device``: where the grid work runs;
    ``progress``: a progress bar over the mesh boxes (worth it from about a hundred atoms);
    ``coarse_tolerance``: the products of diffuse primitives go to a mesh of half the points per axis
    where their Fourier series beyond it is below this (:mod:`.multigrid`); 0 keeps one mesh."""

    def __init__(self, cell, xc: str, cutoff_bohr: float, threshold: float = 1e-8, box_points: int = 8,
                 device: str = "cpu", progress: bool = False, coarse_tolerance: float = 1e-8):
        if len(cell._ecpbas) or not cell._pseudo:
            raise NotImplementedError("the real-space builder handles GTH pseudopotentials (no ECP, no all-electron)")
        self.cell, self.xc, self.device, self.progress = cell, xc, torch.device(device), progress
        self.timings = {}
        start = time.perf_counter()
        self.symbols = [cell.atom_symbol(a) for a in range(cell.natm)]
        self.positions = np.asarray(cell.atom_coords(), dtype=np.float64)
        self.lattice = np.asarray(cell.lattice_vectors(), dtype=np.float64)
        self.mesh = tuple(int(n) for n in cell.mesh)
        self.functions = element_functions(cell, threshold)
        counts = [self.functions[s].num_orbitals for s in self.symbols]
        self.template = PairBlocks(self.positions, self.lattice, cutoff_bohr, counts, device=self.device)
        self.pairs = self.template.zeros_like
        self.width = self.template.width
        self.boxes = MeshBoxes(self.positions, self.lattice, self.symbols, self.functions, self.mesh,
                               box_points=box_points, device=self.device)
        self.two_meshes = None
        if coarse_tolerance > 0:
            two = TwoMeshes(self.boxes, self.positions, self.lattice, threshold, coarse_tolerance, box_points)
            self.two_meshes = two if two.available else None
        self.timings["setup_s"] = time.perf_counter() - start

        start = time.perf_counter()
        integrals = ClusterIntegrals(cell, self.width)
        self.overlap, self.kinetic, self.pseudo = self.pairs(), self.pairs(), self.pairs()
        two_centre(integrals, {"overlap": self.overlap, "kinetic": self.kinetic}, self.positions, self.lattice,
                   cutoff_bohr)
        radius = np.array([self.functions[s].radius for s in self.symbols])
        # pairs of two images each below √threshold at a pseudopotential centre are left out there: their
        # product is below the threshold the functions are cut at (moves the blocks by < 1e-6 meV)
        strong = {s: f.radius_at(math.sqrt(threshold)) for s, f in self.functions.items()}
        pseudopotential(integrals, self.pseudo, self.positions, self.lattice, radius,
                        np.array([strong[s] for s in self.symbols]))
        self.timings["analytic_s"] = time.perf_counter() - start
        self.pseudo_charge = None
        # the engine's G = 0 term of the neutral (pseudo-charges + electrons) Hartree potential
        self.potential_constant = sum(2 * math.pi * float(cell.atom_charge(a)) * self._r_loc(s) ** 2
                                      for a, s in enumerate(self.symbols)) / abs(np.linalg.det(self.lattice))

    def _r_loc(self, symbol):
        return float(self.cell._pseudo[symbol][1])

    # ------------------------------------------------------------------ densities
    def atomic_density(self, atom_density: dict) -> torch.Tensor:
        """ρ(0) on the mesh from per-element density matrices {symbol: D (PySCF AO order)}."""
        start = time.perf_counter()
        rho = self.two_meshes.density(atom_density) if self.two_meshes is not None else None
        if rho is None:
            rho = self.boxes.density(atom_density)
        self.timings["atomic_density_s"] = time.perf_counter() - start
        return rho.reshape(self.mesh)

    def _pseudo_charges(self) -> torch.Tensor:
        """The Gaussian pseudo-charges of the GTH long-range part on the mesh, from their analytic
        Fourier coefficients (as the engine has them; sampled on the mesh they alias)."""
        start = time.perf_counter()
        charges = [float(self.cell.atom_charge(a)) for a in range(self.cell.natm)]
        density = pseudo_charge_density(self.lattice, self.mesh, self.positions, charges,
                                        [self._r_loc(s) for s in self.symbols], self.device)
        self.timings["pseudo_charge_s"] = time.perf_counter() - start
        return density

    # ------------------------------------------------------------------ operators
    def hamiltonians(self, densities: list) -> list:
        """H[ρ] = T + V_pp(short range, non-local) + ∫ φ_μ V_loc[ρ] φ_ν for each density on the mesh
        (tensor or array; one pass over the mesh for all): PairBlocks of every pair."""
        if self.pseudo_charge is None:
            self.pseudo_charge = self._pseudo_charges()
        start = time.perf_counter()
        potentials = torch.stack([
            local_potential(torch.as_tensor(rho, device=self.device).reshape(self.mesh), self.pseudo_charge,
                            self.potential_constant, self.lattice, self.xc) for rho in densities])
        self.timings["potential_s"] = time.perf_counter() - start
        start = time.perf_counter()
        out = [self.pairs() for _ in densities]
        from tqdm.auto import tqdm

        meshes = self.two_meshes or self.boxes
        with tqdm(total=meshes.num_boxes, desc=f"H[ρ] on the mesh ({self.cell.natm} atoms)", unit="box",
                  leave=False, disable=not self.progress) as bar:
            if self.two_meshes is not None:
                self.two_meshes.potential_matrices(potentials, out, progress=bar)
            else:
                weight = abs(np.linalg.det(self.lattice)) / np.prod(self.mesh)
                self.boxes.potential_matrices(potentials.reshape(len(densities), -1) * weight, out, progress=bar)
        for blocks in out:
            blocks.blocks += self.kinetic.blocks + self.pseudo.blocks
        self.timings["potential_matrix_s"] = time.perf_counter() - start
        return out

    def hamiltonian(self, rho: torch.Tensor) -> PairBlocks:
        return self.hamiltonians([rho])[0]

    def blocks(self, named: dict) -> dict:
        """{(i, j, *R): {name: block [n_i, n_j] (numpy)}} from {name: PairBlocks}."""
        first, second, shifts, _ = self.pair_list()
        counts = self.template.orbital_counts
        arrays = {name: pairs.blocks.cpu().numpy() for name, pairs in named.items()}
        return {(int(i), int(j), *map(int, shift)): {name: a[e, :counts[i], :counts[j]] for name, a in arrays.items()}
                for e, (i, j, shift) in enumerate(zip(first, second, shifts))}

    def pair_list(self):
        """(i, j, R, distance in Bohr) of the blocks, in their order."""
        t = self.template
        return t.first, t.second, t.shifts, t.distances
