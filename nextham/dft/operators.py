"""The operators of a fixed density and the SCF that gives the converged one: the GTH core Hamiltonian
as the real-space builder integrates it, H[ρ](k) at any k, ρ(0) of the free atoms on the SCF
k-points, and the converged density on the mesh as the engine's multigrid evaluates it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..conventions import spin_diagonal
from ..structures import StructureSpec
from .atomic_density import atomic_density_blocks, atomic_density_matrix
from .cell import build_cell, kpoint_meshes
from .engine_settings import PySCFSettings


@dataclass
class SCFProblem:
    """What one structure's SCF starts from: the cell and its element bases, the SCF and Fourier
    k-meshes, the mean-field object, the free atoms' density matrices and ρ(0) on the SCF k-points."""

    cell: object
    element_basis: dict
    spinful: bool
    scf_mesh: list
    ft_mesh: list
    kpts: np.ndarray
    mf: object
    free_atoms: dict
    dm0: np.ndarray


class FixedDensityOperator:
    """H[ρ](k) = h_core(k) + V_eff[ρ](k) at arbitrary k for a density given on the SCF mesh."""

    def __init__(self, mf, cell, spinful, chunk):
        self.mf, self.cell, self.spinful, self.chunk = mf, cell, spinful, chunk

    def _veff_spinor(self, dm_kpts, kpts_band):
        # KGKS.get_veff(kpts_band=...) fails in PySCF 2.14 (vmat allocated with the dm's k count);
        # same math as its collinear branch: J of the full spinor density + collinear XC.
        mf, n = self.mf, self.cell.nao
        vj = np.asarray(mf.get_j(self.cell, dm_kpts, kpts=mf.kpts, kpts_band=kpts_band))
        numint = mf._numint._to_numint1c()
        dm_aa = np.ascontiguousarray(dm_kpts[:, :n, :n])
        dm_bb = np.ascontiguousarray(dm_kpts[:, n:, n:])
        _, _, vxc = numint.nr_uks(self.cell, mf.grids, mf.xc, (dm_aa, dm_bb), 0, 1, mf.kpts, kpts_band)
        out = np.zeros((len(kpts_band), 2 * n, 2 * n), dtype=complex)
        out[:, :n, :n], out[:, n:, n:] = vxc[0], vxc[1]
        return vj + out

    def __call__(self, dm_kpts, kpts_band):
        # GDF rebuilds its 3-index tensor for every new kpts_band set: one call; FFTDF/multigrid:
        # chunks bound the memory.
        chunk = len(kpts_band) if self.spinful else self.chunk
        out = []
        for start in range(0, len(kpts_band), chunk):
            kb = kpts_band[start:start + chunk]
            if self.spinful:
                veff = self._veff_spinor(dm_kpts, kb)
            else:
                veff = self.mf.get_veff(self.cell, dm_kpts, kpts=self.mf.kpts, kpts_band=kb)
            out.append(np.asarray(self.mf.get_hcore(self.cell, kb)) + np.asarray(veff))
        return np.concatenate(out)


def _initial_density(cell, free_atoms, spinful, nkpts):
    dm_atoms = atomic_density_matrix(cell, blocks=free_atoms)
    if spinful:
        # non-magnetic spinor density: half the electrons in each spin, no spin-flip part
        dm_atoms = spin_diagonal(dm_atoms / 2.0)
    return np.repeat(dm_atoms[None], nkpts, axis=0).astype(complex if spinful else float)


def gth_core_hamiltonian(cell, kpts) -> np.ndarray:
    """h_core(k) = T + V_pp of a GTH cell (K, nao, nao) with every part of V_pp as the real-space builder
    has it: the long-range erf part on the mesh from its analytic Fourier coefficients, the short-range
    local (C terms) and non-local parts as analytic lattice sums. PySCF's default (FFTDF) sums the
    non-local projectors over the mesh's G vectors instead; for the tight projectors of semicore states
    that truncation is the SCF's own error, and it was what the band check measured: 1.3e-2 Ha in
    NaCl's Na 2s at 80 Ha (1.0e-4 at 200 Ha), 2.6e-4 Ha in bcc V at 80 Ha."""
    from pyscf import lib
    from pyscf.pbc import df, tools
    from pyscf.pbc.gto.pseudo import pp_int

    kpts = np.reshape(np.asarray(kpts, dtype=np.float64), (-1, 3))
    mesh = cell.mesh
    long_range = -np.einsum("ij,ij->j", cell.get_SI(mesh=mesh), pp_int.get_gth_vlocG_part1(cell, cell.get_Gv(mesh)))
    weighted = tools.ifft(long_range, mesh).real  # the potential times the mesh's quadrature weight
    grid = df.FFTDF(cell, kpts)
    local = np.zeros((len(kpts), cell.nao, cell.nao), dtype=np.complex128)
    for values, p0, p1 in grid.aoR_loop(grid.grids, kpts):
        for k, ao in enumerate(values[0]):
            local[k] += lib.dot(ao.T.conj() * weighted[p0:p1], ao)
    return (np.asarray(cell.pbc_intor("int1e_kin", hermi=1, kpts=kpts)).reshape(local.shape) + local
            + np.asarray(pp_int.get_pp_loc_part2(cell, kpts)).reshape(local.shape)
            + np.asarray(pp_int.get_pp_nl(cell, kpts)).reshape(local.shape))


def prepare_scf(spec: StructureSpec, settings: PySCFSettings) -> SCFProblem:
    """Cell, k-meshes, the mean-field object, the free atoms' density matrices and ρ(0) on the SCF
    k-points (no SCF yet)."""
    from pyscf.pbc import dft

    cell, element_basis = build_cell(spec, settings)
    spinful = bool(spec.soc)
    scf_mesh, ft_mesh = kpoint_meshes(spec.lattice, settings)
    kpts = cell.make_kpts(scf_mesh)
    if spinful:
        mf = dft.KGKS(cell, kpts, xc=settings.xc).density_fit()
        mf.with_soc = True
    else:
        mf = dft.KRKS(cell, kpts, xc=settings.xc).multigrid_numint()
    if settings.smearing_hartree > 0:
        from pyscf.pbc.scf.addons import smearing_

        mf = smearing_(mf, sigma=settings.smearing_hartree, method="fermi")
    mf.conv_tol, mf.conv_tol_grad, mf.max_cycle = settings.conv_tol, settings.conv_tol_grad, settings.max_cycle
    mf.verbose = 0
    if not spinful:  # the pseudopotential exactly as the real-space builder integrates it, not mesh-truncated
        mf.get_hcore = lambda cell=cell, kpts=None: gth_core_hamiltonian(cell, mf.kpts if kpts is None else kpts)
    free_atoms = atomic_density_blocks(cell, settings.h0_density, settings.xc)
    dm0 = _initial_density(cell, free_atoms, spinful, len(kpts))
    return SCFProblem(cell, element_basis, spinful, scf_mesh, ft_mesh, kpts, mf, free_atoms, dm0)


def scf_density_on_mesh(mf, dm_kpts):
    """The converged density on the cell's mesh exactly as the engine's multigrid evaluates it."""
    from pyscf.pbc import tools
    from pyscf.pbc.dft.multigrid import multigrid

    cell = mf.cell
    mesh = tuple(int(n) for n in mf._numint.mesh)
    if mesh != tuple(int(n) for n in cell.mesh):
        raise ValueError(f"multigrid mesh {mesh} differs from the cell mesh {tuple(cell.mesh)}")
    rho_g = multigrid._eval_rhoG(mf._numint, np.asarray(dm_kpts), hermi=1, kpts=mf.kpts, deriv=0)
    weight = cell.vol / np.prod(mesh)
    return tools.ifft(rho_g.reshape(-1, np.prod(mesh))[0], mesh).real.reshape(mesh) / weight
