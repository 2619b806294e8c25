"""Contracted spherical Gaussian basis functions of a PySCF cell evaluated in torch, with the
radius beyond which each element's functions fall below a threshold."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def evaluate(self, displacement: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Values at ``displacement`` = r − centre ([..., 3], Bohr) → [..., num_orbitals], written
        into ``out`` when given (a view of a larger array)."""
        x, y, z = displacement.unbind(-1)
        r2 = x * x + y * y + z * z
        if out is None:
            out = displacement.new_empty((*r2.shape, self.num_orbitals))
        tensors = self._tensors(displacement.dtype, displacement.device)
        gaussians = [torch.exp(r2[..., None] * negative) for negative in tensors["exponent_sets"]]
        start = 0
        for (l, _, coefficients, _), (which, coefficient, to_spherical) in zip(self.shells, tensors["shells"]):
            width = coefficients.shape[1] * (2 * l + 1)
            if not len(coefficients):  # a restricted copy without primitives in this shell
                out[..., start:start + width] = 0.0
            else:
                radial = gaussians[which] @ coefficient  # [..., C]
                if l == 0:
                    angular = None  # to_spherical is None: the constant is in the coefficients
                elif l == 1 and to_spherical is None:
                    angular = displacement
                else:
                    cart = torch.stack([x ** a * y ** b * z ** c for a, b, c in _cartesian_powers(l)], -1)
                    angular = cart if to_spherical is None else cart @ to_spherical
                values = radial if angular is None else (radial[..., :, None] * angular[..., None, :]).flatten(-2)
                out[..., start:start + width] = values
            start += width
        return out

    def _tensors(self, dtype, device) -> dict:
        """The exponents (negated, one set per group of shells sharing them, as MOLOPT's s and p do)
        and coefficients as tensors, made once per dtype and device."""
        key = (dtype, str(device))
        if key not in self._cache:
            as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)
            sets, shells = {}, []
            for l, exponents, coefficients, to_spherical in self.shells:
                which = sets.setdefault(exponents.tobytes(), (len(sets), -exponents))[0]
                # s and p: the Cartesian → spherical map is a multiple of the identity, folded into the coefficients
                scale = to_spherical[0, 0]
                if to_spherical.shape[0] == to_spherical.shape[1] and np.allclose(to_spherical, scale * np.eye(len(to_spherical))):
                    shells.append((which, as_tensor(coefficients * scale), None))
                else:
                    shells.append((which, as_tensor(coefficients), as_tensor(to_spherical)))
            ordered = [as_tensor(negative) for _, negative in sorted(sets.values(), key=lambda item: item[0])]
            self._cache[key] = {"exponent_sets": ordered, "shells": shells}
        return self._cache[key]

    def radius_at(self, threshold: float) -> float:
        """Bohr beyond which every function is below ``threshold``."""
        return max((_shell_radius(l, exponents, coefficients * np.abs(to_spherical).max(), threshold)
                    for l, exponents, coefficients, to_spherical in self.shells if len(exponents)), default=0.0)

    def restricted(self, keep, threshold: float) -> "ElementFunctions":
        """The same functions with each contraction cut to the primitives whose exponents ``keep``
        (a mask from an exponent array) accepts, and the radius of what is left (0 if nothing is)."""
        shells, radius = [], 0.0
        for l, exponents, coefficients, to_spherical in self.shells:
            mask = np.asarray(keep(exponents), dtype=bool)
            shells.append((l, exponents[mask], coefficients[mask], to_spherical))
            if mask.any():
                radius = max(radius, _shell_radius(l, exponents[mask], coefficients[mask] * np.abs(to_spherical).max(),
                                                   threshold))
        return ElementFunctions(self.symbol, shells, self.num_orbitals, radius)

    def spherical_density(self, density_matrix, tolerance: float = 1e-10, split_at: float | None = None):
        """ρ(|r|²) of a rotation-invariant one-centre density matrix (a spherically averaged free
        atom), as a function of r², or None when the matrix is not rotation invariant. With
        ``split_at``: (the part ρ_D of the primitives with exponents up to it alone, and ρ − ρ_D).

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

        def radial_parts(r2: torch.Tensor, limits) -> list:
            """Σ_st w_st R_s R_t with R cut to the primitives with exponents ≤ each limit (None: all)."""
            as_tensor = lambda a: torch.as_tensor(a, dtype=r2.dtype, device=r2.device)
            gaussians = [torch.exp(-r2[..., None] * as_tensor(exps)) for exps in sets]
            out = []
            for limit in limits:
                # R_s(r) r^l for every contracted function, then Σ_st w_st R_s R_t
                radial = torch.stack([(gaussians[key] @ as_tensor(coef if limit is None else coef * (sets[key] <= limit)))
                                      * r2 ** (l / 2) for l, _, key, coef in columns], -1)
                out.append(((radial @ as_tensor(weights)) * radial).sum(-1))
            return out

        def density(r2: torch.Tensor) -> torch.Tensor:
            return radial_parts(r2, [None])[0]

        # the shortcut is used only where it reproduces the full evaluation
        points = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 3)) * 1.5)
        values = self.evaluate(points)
        full = torch.einsum("pm,mn,pn->p", values, torch.as_tensor(density_matrix), values)
        radial = density((points * points).sum(-1))
        if not torch.allclose(radial, full, rtol=tolerance, atol=tolerance * float(full.abs().max())):
            return None
        if split_at is None:
            return density

        def diffuse(r2):
            return radial_parts(r2, [split_at])[0]

        def rest(r2):
            whole, smooth = radial_parts(r2, [None, split_at])
            return whole - smooth

        return diffuse, rest


def tabulated(function, radius: float, intervals: int = 65536):
    """``function`` of r² as a cubic spline in r on [0, radius] (zero beyond; even in r, so with
    zero slope at 0), evaluated by Horner's rule: four table look-ups in place of the exponentials
    and contractions of every primitive. A Gaussian is flat in r at its centre, where it is steepest
    in r², so 65,536 intervals hold oxygen's tight core density to ~1e-12 of its peak."""
    from scipy.interpolate import CubicSpline

    top = max(radius, 1e-6)
    r = np.linspace(0.0, top, intervals + 1)
    spline = CubicSpline(r, function(torch.as_tensor(r * r)).numpy(), bc_type=((1, 0.0), "not-a-knot"))
    step = top / intervals
    cache = {}

    def evaluate(r2: torch.Tensor) -> torch.Tensor:
        key = (r2.dtype, str(r2.device))
        if key not in cache:
            cache[key] = [torch.as_tensor(c, dtype=r2.dtype, device=r2.device) for c in spline.c]
        c3, c2, c1, c0 = cache[key]
        distance = torch.sqrt(r2)
        index = (distance / step).long().clamp_(max=intervals - 1)
        t = distance - index.to(r2.dtype) * step  # a long times a float would be float32
        value = ((c3[index] * t + c2[index]) * t + c1[index]) * t + c0[index]
        return torch.where(distance < top, value, torch.zeros_like(value))

    return evaluate


def radial_radius(function, threshold: float) -> float:
    """Largest r (Bohr) where |f(r²)| still reaches ``threshold``, on a fine radial scan."""
    r = torch.linspace(0.0, 60.0, 24001, dtype=torch.float64)
    above = torch.nonzero(function(r * r).abs() >= threshold).reshape(-1)
    return float(r[above[-1]] + r[1]) if len(above) else 0.0


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
