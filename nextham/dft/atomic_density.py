"""Zeroth-step density: block-diagonal superposition of spherically averaged neutral-atom densities.

``atomic-ks`` solves each free atom with the crystal's own functional, basis and pseudopotential
(GTH or ECP), which is what OpenMX/ABACUS/CP2K call the atomic guess and gives the smallest ΔH.
``atomic-hf`` is PySCF's ``init_guess='atom'`` (atomic Hartree–Fock with the same basis).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

H0_DENSITIES = ("atomic-ks", "atomic-hf")


def _single_atom(cell, atom_index):
    atom = cell.copy(deep=False)
    atom.charge = 0
    atom.symmetry = False
    atom.cart = False
    atom._atom = [cell._atom[atom_index]]
    atom._atm = cell._atm[atom_index:atom_index + 1]
    atom._bas = cell._bas[cell._bas[:, 0] == atom_index].copy()
    atom._ecpbas = cell._ecpbas[cell._ecpbas[:, 0] == atom_index].copy()
    atom._bas[:, 0] = 0
    atom._ecpbas[:, 0] = 0
    symbol = cell._atom[atom_index][0]
    atom._pseudo = {symbol: cell._pseudo[symbol]} if symbol in cell._pseudo else {}
    atom.spin = atom.nelectron % 2
    atom.a = None
    return atom


def _atomic_ks_density(atom, xc):
    from pyscf.scf import ADIIS, atom_hf_pp, atom_ks

    if atom._pseudo:
        # the molecular atomic-KS solver has no GTH pseudopotential hook; borrow the PP core
        # Hamiltonian of the atomic-HF solver (same integrals PySCF uses for init_guess='atom')
        class AtomKSPseudo(atom_ks.AtomSphAverageRKS):
            get_hcore = atom_hf_pp.AtomSCFPP.get_hcore

        solver = AtomKSPseudo(atom)
        solver.init_guess = "minao"
    else:
        solver = atom_ks.AtomSphAverageRKS(atom)
        solver.init_guess = "1e"
    solver.xc = xc
    solver.verbose = 0
    solver.grids.atom_grid = (100, 434)
    diis = ADIIS()
    diis.space = 12
    solver.diis = diis
    solver.conv_tol = 1e-10
    solver.max_cycle = 200
    solver.kernel()
    if not solver.converged:
        raise RuntimeError(f"atomic KS for {atom._atom[0][0]} did not converge")
    coeff, occ = solver.mo_coeff, solver.mo_occ
    return (coeff * occ) @ coeff.conj().T


def atomic_density_blocks(cell, method: str = "atomic-ks", xc: str = "pbe") -> dict:
    """{symbol: spin-summed density matrix of the neutral atom} in PySCF's AO order."""
    if method not in H0_DENSITIES:
        raise ValueError(f"unknown H(0) density {method!r}; choose one of {H0_DENSITIES}")
    first = {}
    for index in range(cell.natm):
        first.setdefault(cell._atom[index][0], index)
    if method == "atomic-hf":
        from pyscf.scf import hf

        full = np.asarray(hf.init_guess_by_atom(cell))
        slices = cell.aoslice_by_atom()
        return {symbol: full[slices[i][2]:slices[i][3], slices[i][2]:slices[i][3]] for symbol, i in first.items()}
    return {symbol: _atomic_ks_density(_single_atom(cell, index), xc) for symbol, index in first.items()}


def atomic_density_matrix(cell, method: str = "atomic-ks", xc: str = "pbe", blocks: dict | None = None) -> np.ndarray:
    """Spin-summed real-space density matrix (nao × nao) of the neutral atoms, block diagonal;
    ``blocks`` (from :func:`atomic_density_blocks`) when the free atoms are already solved."""
    blocks = blocks if blocks is not None else atomic_density_blocks(cell, method, xc)
    return scipy.linalg.block_diag(*[blocks[cell._atom[index][0]] for index in range(cell.natm)])
