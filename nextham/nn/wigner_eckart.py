"""Wigner–Eckart converter: orbital blocks ↔ e3nn irreps, both ways, exactly.

For a shell pair (l1, l2) the (2l1+1) × (2l2+1) block is an element of l1 ⊗ l2 and decomposes into
irreps l = |l1−l2| … l1+l2 of parity (−1)^(l1+l2) with the Clebsch–Gordan (Wigner 3j) tensors:
``x^(l) = sqrt(2l+1) Σ W^(l1 l2 l) H`` — an orthogonal change of basis, so the inverse is its
transpose. Blocks are in the canonical orbital order, which is e3nn's own once vectors are given to
e3nn as (y, z, x) (:mod:`nextham.conventions.rotations`).

Spinful blocks (spin-major 2P × 2P) are first written in the Pauli basis,
H = σ0 ⊗ H⁰ + σx ⊗ Hˣ + σy ⊗ Hʸ + σz ⊗ Hᶻ. Under a rotation the spin vector (Hˣ, Hʸ, Hᶻ) turns like
an axial vector (1e), so (l1 ⊗ l2) ⊗ (0 ⊕ 1): H⁰ decomposes as above and each orbital irrep l of the
vector part couples with 1e into l' ∈ {|l−1|, l, l+1}. Real and imaginary parts are two copies of
the same real irreps.
"""
from __future__ import annotations

import numpy as np
import torch
from e3nn import o3

PAULI = np.array([np.eye(2), [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
# canonical l = 1 order is (y, z, x): Pauli components (σy, σz, σx)
VECTOR_COMPONENTS = (2, 3, 1)


def _cg(l1, l2, l):
    return o3.wigner_3j(l1, l2, l, dtype=torch.float64).numpy() * np.sqrt(2 * l + 1)


def _pair_transform(l1, l2):
    """Rows: irreps components of l1 ⊗ l2; columns: vec of the (2l1+1)×(2l2+1) block (row-major)."""
    rows, irreps = [], []
    for l in range(abs(l1 - l2), l1 + l2 + 1):
        rows.append(_cg(l1, l2, l).reshape((2 * l1 + 1) * (2 * l2 + 1), 2 * l + 1).T)
        irreps.append((l, (-1) ** (l1 + l2)))
    return np.concatenate(rows), irreps


def _spin_coupling(l, parity):
    """Orthogonal map from (irrep l) ⊗ (1e) components (index m * 3 + k) to irreps l' ⊕ …."""
    rows, irreps = [], []
    for lp in range(abs(l - 1), l + 2):
        rows.append(_cg(l, 1, lp).reshape((2 * l + 1) * 3, 2 * lp + 1).T)
        irreps.append((lp, parity))
    return np.concatenate(rows), irreps


class BlockIrreps(torch.nn.Module):
    """Padded P × P blocks (every shell slot of a layout) ↔ a vector of ``self.irreps``.

    ``slot_ls`` lists the angular momentum of each shell slot (``OrbitalLayout.slot_ls``).
    ``spinful``: blocks are 2P × 2P complex spin-major; ``self.irreps`` then holds the real parts
    followed by the imaginary parts."""

    def __init__(self, slot_ls, spinful: bool = False):
        super().__init__()
        self.slot_ls = tuple(int(l) for l in slot_ls)
        self.spinful = spinful
        sizes = [2 * l + 1 for l in self.slot_ls]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        self.num_orbitals = int(starts[-1])
        p = self.num_orbitals
        spatial_rows, spatial_irreps, pair_of_row = [], [], []
        for a, la in enumerate(self.slot_ls):
            for b, lb in enumerate(self.slot_ls):
                local, irreps = _pair_transform(la, lb)
                full = np.zeros((local.shape[0], p * p))
                rows_a = np.arange(starts[a], starts[a + 1])
                cols_b = np.arange(starts[b], starts[b + 1])
                flat = (rows_a[:, None] * p + cols_b[None, :]).ravel()
                full[:, flat] = local
                spatial_rows.append(full)
                spatial_irreps += irreps
                pair_of_row += [(a, b)] * local.shape[0]
        spatial = np.concatenate(spatial_rows)  # (P², P²), orthogonal
        self.spatial_irreps = o3.Irreps([(1, (l, par)) for l, par in spatial_irreps])
        self.register_buffer("spatial", torch.as_tensor(spatial))
        self.slot_pair_of_component = pair_of_row
        if not spinful:
            self.irreps = self.spatial_irreps
            self._set_sorted_order()
            return
        # spin vector part: each spatial irrep (l, parity) ⊗ 1e -> irreps; component order (m, k)
        vector_irreps = []
        offset = 0
        blocks = []
        for _, (l, parity) in zip(range(len(spatial_irreps)), spatial_irreps):
            local, irreps = _spin_coupling(l, parity)
            blocks.append((offset, local))
            vector_irreps += irreps
            offset += 2 * l + 1
        coupling = np.zeros((3 * p * p, 3 * p * p))
        row = 0
        for start, local in blocks:
            size = local.shape[1] // 3
            columns = ((start + np.arange(size))[:, None] * 3 + np.arange(3)[None, :]).ravel()
            coupling[row:row + local.shape[0], columns] = local
            row += local.shape[0]
        self.register_buffer("coupling", torch.as_tensor(coupling))
        one = [(1, (l, par)) for l, par in spatial_irreps] + [(1, (l, par)) for l, par in vector_irreps]
        self.complex_irreps = o3.Irreps(one)
        self.irreps = self.complex_irreps + self.complex_irreps

        self._set_sorted_order()

    def _set_sorted_order(self):
        """Permutation to e3nn's sorted, simplified order (few large blocks: much faster Linears)."""
        self.irreps = o3.Irreps(self.irreps)
        sorted_irreps = self.irreps.sort()
        offsets = np.concatenate([[0], np.cumsum([mul * ir.dim for mul, ir in self.irreps])])
        permutation = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in sorted_irreps.inv])
        self.irreps_sorted = sorted_irreps.irreps.simplify()
        self.register_buffer("sort_permutation", torch.as_tensor(permutation, dtype=torch.long))
        self.register_buffer("unsort_permutation", torch.as_tensor(np.argsort(permutation), dtype=torch.long))

    def time_reversal_even_components(self) -> torch.Tensor:
        """Bool mask over ``irreps_sorted``: the components a time-reversal-invariant spinful block can
        hold. With H = Σ_μ σ_μ ⊗ H^μ, Θ = iσ_y K gives Θ H Θ⁻¹ = σ0 ⊗ H^0* − Σ_a σ_a ⊗ H^a*, so a
        non-magnetic Hamiltonian has real H^0 and imaginary H^a: the real copy of the spin-scalar
        irreps and the imaginary copy of the spin-vector irreps (the map to irreps is real)."""
        if not self.spinful:
            return torch.ones(self.irreps_sorted.dim, dtype=torch.bool)
        scalar = self.num_orbitals ** 2
        half = self.irreps.dim // 2
        keep = torch.zeros(2 * half, dtype=torch.bool)
        keep[:scalar] = True                 # real part of H^0
        keep[half + scalar:] = True          # imaginary part of (H^x, H^y, H^z)
        return keep[self.sort_permutation]

    def to_sorted_irreps(self, blocks: torch.Tensor) -> torch.Tensor:
        """Like :meth:`to_irreps`, components in the order of ``self.irreps_sorted``."""
        return self.to_irreps(blocks)[..., self.sort_permutation]

    def from_sorted_irreps(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_irreps(x[..., self.unsort_permutation])

    # ------------------------------------------------------------------ spinless
    def _spatial_to_irreps(self, blocks):
        """(..., P, P) real or complex -> (..., P²)."""
        flat = blocks.reshape(*blocks.shape[:-2], -1)
        return flat @ self.spatial.to(flat.dtype if not flat.is_complex() else flat.real.dtype).T.to(flat.dtype)

    def _irreps_to_spatial(self, x):
        p = self.num_orbitals
        matrix = self.spatial.to(x.real.dtype if x.is_complex() else x.dtype).to(x.dtype)
        return (x @ matrix).reshape(*x.shape[:-1], p, p)

    # ------------------------------------------------------------------ public
    def to_irreps(self, blocks: torch.Tensor) -> torch.Tensor:
        if not self.spinful:
            return self._spatial_to_irreps(blocks)
        p = self.num_orbitals
        spin = blocks.reshape(*blocks.shape[:-2], 2, p, 2, p).transpose(-3, -2)  # (..., s, s', P, P)
        pauli = torch.as_tensor(PAULI, dtype=blocks.dtype, device=blocks.device)
        # H^μ = tr(σ_μ† ⊗ 1 · H) / 2 ; scaled by √2 so the whole map is an isometry
        components = torch.einsum("mst,...stij->...mij", pauli.conj(), spin) / np.sqrt(2.0)
        scalar = self._spatial_to_irreps(components[..., 0, :, :])
        vector = torch.stack([self._spatial_to_irreps(components[..., k, :, :]) for k in VECTOR_COMPONENTS], -1)
        coupled = vector.reshape(*vector.shape[:-2], -1) @ self.coupling.to(vector.real.dtype).T.to(vector.dtype)
        complex_irreps = torch.cat([scalar, coupled], dim=-1)
        return torch.cat([complex_irreps.real, complex_irreps.imag], dim=-1)

    def from_irreps(self, x: torch.Tensor) -> torch.Tensor:
        if not self.spinful:
            return self._irreps_to_spatial(x)
        p = self.num_orbitals
        half = x.shape[-1] // 2
        complex_dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        complex_irreps = torch.complex(x[..., :half], x[..., half:]).to(complex_dtype)
        scalar, coupled = complex_irreps[..., :p * p], complex_irreps[..., p * p:]
        vector = (coupled @ self.coupling.to(x.dtype).to(complex_dtype)).reshape(*coupled.shape[:-1], p * p, 3)
        components = [None] * 4
        components[0] = self._irreps_to_spatial(scalar)
        for k, index in enumerate(VECTOR_COMPONENTS):
            components[index] = self._irreps_to_spatial(vector[..., k])
        stacked = torch.stack(components, dim=-3)  # (..., 4, P, P)
        pauli = torch.as_tensor(PAULI, dtype=complex_dtype, device=x.device)
        spin = torch.einsum("mst,...mij->...stij", pauli, stacked) / np.sqrt(2.0)
        return spin.transpose(-3, -2).reshape(*x.shape[:-1], 2 * p, 2 * p)
