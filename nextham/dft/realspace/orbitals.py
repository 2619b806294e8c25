"""Contracted spherical Gaussian basis functions of a PySCF cell evaluated in torch, with the
radius beyond which each element's functions fall below a threshold."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def _cartesian_powers(l):
    """PySCF's Cartesian order: x^lx y^ly z^lz, lx from l down, then ly from l - lx down."""
    return [(lx, ly, l - lx - ly) for lx in range(l, -1, -1) for ly in range(l - lx, -1, -1)]


@dataclass
class ElementFunctions:
    """One element's contracted shells in PySCF's AO order (shell by shell, contraction column,
    then m)."""
    symbol: str
    shells: list  # (l, exponents [P], coefficients [P, C] as libcint stores them, Cartesian → spherical)
    num_orbitals: int
    radius: float  # Bohr; every function is below the threshold beyond it

    def evaluate(self, displacement: torch.Tensor) -> torch.Tensor:
        """Values at ``displacement`` = r − centre ([..., 3], Bohr) → [..., num_orbitals]."""
        r2 = (displacement * displacement).sum(-1)
        columns = []
        as_tensor = lambda a: torch.as_tensor(a, dtype=displacement.dtype, device=displacement.device)
        gaussians = {}  # shells sharing exponents (MOLOPT's s and p) share the exponentials
        for l, exponents, coefficients, to_spherical in self.shells:
            key = exponents.tobytes()
            if key not in gaussians:
                gaussians[key] = torch.exp(-r2[..., None] * as_tensor(exponents))
            radial = gaussians[key] @ as_tensor(coefficients)  # [..., C]
            if l == 0:
                cart = torch.ones_like(r2)[..., None]
            elif l == 1:
                cart = displacement
            else:
                cart = torch.stack([displacement[..., 0] ** a * displacement[..., 1] ** b * displacement[..., 2] ** c
                                    for a, b, c in _cartesian_powers(l)], -1)
            angular = cart @ as_tensor(to_spherical)
            columns.append((radial[..., :, None] * angular[..., None, :]).flatten(-2))
        return torch.cat(columns, -1)


    def spherical_density(self, density_matrix, tolerance: float = 1e-10):
        """ρ(|r|²) of a rotation-invariant one-centre density matrix (a spherically averaged free
        atom), as a function of r², or None when the matrix is not rotation invariant.

        Invariance leaves only equal-l shell pairs with one weight d_st per pair, and Σ_m of a
        shell's squared angular parts is (2l+1)/4π · r^2l, so ρ = Σ_st d_st (2l+1)/4π r^2l R_s R_t."""
        density_matrix = np.asarray(density_matrix, dtype=np.float64)
        columns, start = [], 0  # (l, first AO, exponent set, coefficients) per contracted function
        exponent_sets = {}
        for l, exponents, coefficients, _ in self.shells:
            key = exponent_sets.setdefault(exponents.tobytes(), (len(exponent_sets), exponents))[0]
            for column in range(coefficients.shape[1]):
                columns.append((l, start, key, coefficients[:, column]))
                start += 2 * l + 1
        weights = np.zeros((len(columns), len(columns)))  # d_st (2l+1)/4π, equal l only
        for s_, (l, a, _, _) in enumerate(columns):
            for t, (m, b, _, _) in enumerate(columns):
                if m == l:
                    block = density_matrix[a:a + 2 * l + 1, b:b + 2 * l + 1]
                    weights[s_, t] = np.mean(np.diag(block)) * (2 * l + 1) / (4 * math.pi)
        sets = [exps for _, exps in sorted(exponent_sets.values(), key=lambda item: item[0])]

        def density(r2: torch.Tensor) -> torch.Tensor:
            as_tensor = lambda a: torch.as_tensor(a, dtype=r2.dtype, device=r2.device)
            gaussians = [torch.exp(-r2[..., None] * as_tensor(exps)) for exps in sets]
            # R_s(r) r^l for every contracted function, then Σ_st w_st R_s R_t
            radial = torch.stack([(gaussians[key] @ as_tensor(coef)) * r2 ** (l / 2)
                                  for l, _, key, coef in columns], -1)
            return ((radial @ as_tensor(weights)) * radial).sum(-1)

        # the shortcut is used only where it reproduces the full evaluation
        points = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 3)) * 1.5)
        values = self.evaluate(points)
        full = torch.einsum("pm,mn,pn->p", values, torch.as_tensor(density_matrix), values)
        radial = density((points * points).sum(-1))
        if not torch.allclose(radial, full, rtol=tolerance, atol=tolerance * float(full.abs().max())):
            return None
        return density


def element_functions(cell, threshold: float) -> dict:
    """{symbol: ElementFunctions} for the elements of a PySCF cell (spherical GTOs)."""
    from pyscf import gto

    out = {}
    for atom in range(cell.natm):
        symbol = cell.atom_symbol(atom)
        if symbol in out:
            continue
        shells, radius, count = [], 0.0, 0
        for shell in range(cell.nbas):
            if cell.bas_atom(shell) != atom:
                continue
            l = cell.bas_angular(shell)
            exponents = np.asarray(cell.bas_exp(shell), dtype=np.float64)
            coefficients = np.asarray(cell._libcint_ctr_coeff(shell), dtype=np.float64)
            to_spherical = np.asarray(gto.cart2sph(l), dtype=np.float64)
            shells.append((l, exponents, coefficients, to_spherical))
            count += coefficients.shape[1] * (2 * l + 1)
            radius = max(radius, _shell_radius(l, exponents, coefficients * np.abs(to_spherical).max(), threshold))
        out[symbol] = ElementFunctions(symbol, shells, count, radius)
    return out


def _shell_radius(l, exponents, coefficients, threshold):
    """Largest r where |Σ_p c_p r^l exp(−α_p r²)| (coefficients scaled by the angular factor's
    largest entry) still reaches ``threshold``, found on a fine radial scan."""
    r = np.linspace(0.0, 60.0, 24001)
    values = np.abs(np.exp(-np.outer(r * r, exponents)) @ coefficients).max(axis=1) * r ** l
    above = np.flatnonzero(values >= threshold)
    return float(r[above[-1]] + r[1]) if len(above) else 0.0
