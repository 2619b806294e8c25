"""Atomic-orbital basis description and orbital-order conventions.

Canonical order inside nextham (and in the DeepH "new" format): within each shell of angular
momentum l the 2l+1 real spherical harmonics are ordered m = -l, ..., l with z as the polar axis,
so p = (y, z, x) and d = (xy, yz, z², xz, x²−y²). e3nn 0.6 takes y as its polar axis; its irreps
coincide with this order when Cartesian vectors are handed to e3nn as (y, z, x)
(:func:`to_e3nn_frame`) and rotations as ``Q R Qᵀ`` (:func:`wigner_D`).

Spinful (SOC) blocks are spin-major: ``[[↑↑, ↑↓], [↓↑, ↓↓]]``, each sub-block n_i × n_j;
the overlap always stays spinless.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from .errors import BasisMismatchError, UnknownElementError

ELEMENT_SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U"
).split()
ATOMIC_NUMBERS = {symbol: z for z, symbol in enumerate(ELEMENT_SYMBOLS)}
SHELL_LETTERS = "spdfghi"


def atomic_number(symbol: str) -> int:
    try:
        return ATOMIC_NUMBERS[symbol]
    except KeyError:
        raise UnknownElementError(f"unknown chemical element {symbol!r}") from None


def element_symbol(z: int) -> str:
    if not 0 < int(z) < len(ELEMENT_SYMBOLS):
        raise UnknownElementError(f"unknown atomic number {z}")
    return ELEMENT_SYMBOLS[int(z)]


@dataclass(frozen=True)
class ElementBasis:
    """Radial functions of one element: ``shells[k]`` is the l of the k-th radial function,
    in the order the orbitals are stored."""

    symbol: str
    shells: tuple
    name: str = ""
    pseudopotential: str = ""

    def __post_init__(self):
        object.__setattr__(self, "shells", tuple(int(l) for l in self.shells))

    @property
    def num_orbitals(self) -> int:
        return sum(2 * l + 1 for l in self.shells)

    def shell_slices(self):
        """(l, slice) of every radial function inside this element's orbital block."""
        start, out = 0, []
        for l in self.shells:
            out.append((l, slice(start, start + 2 * l + 1)))
            start += 2 * l + 1
        return out

    def describe(self) -> str:
        counts = {}
        for l in self.shells:
            counts[l] = counts.get(l, 0) + 1
        return "".join(f"{counts[l]}{SHELL_LETTERS[l]}" for l in sorted(counts))

    def to_dict(self):
        return {"shells": list(self.shells), "name": self.name, "pseudopotential": self.pseudopotential}


@dataclass
class BasisSet:
    """Per-element basis of a dataset; one basis per element."""

    elements: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "BasisSet":
        return cls({symbol: ElementBasis(symbol, **spec) for symbol, spec in data.items()})

    def to_dict(self):
        return {symbol: basis.to_dict() for symbol, basis in sorted(self.elements.items())}

    def __contains__(self, symbol):
        return symbol in self.elements

    def __getitem__(self, symbol) -> ElementBasis:
        try:
            return self.elements[symbol]
        except KeyError:
            known = ", ".join(sorted(self.elements)) or "none"
            raise UnknownElementError(
                f"element {symbol} has no basis in this dataset (elements with a basis: {known})"
            ) from None

    def for_atomic_number(self, z: int) -> ElementBasis:
        return self[element_symbol(z)]

    def orbital_counts(self, atomic_numbers) -> np.ndarray:
        return np.array([self.for_atomic_number(z).num_orbitals for z in atomic_numbers], dtype=np.int64)

    def merge(self, other: "BasisSet", path=None) -> "BasisSet":
        """Union of two basis sets; an element present in both must have identical shells."""
        merged = dict(self.elements)
        for symbol, basis in other.elements.items():
            if symbol in merged and merged[symbol].shells != basis.shells:
                raise BasisMismatchError(
                    f"element {symbol}: shells {list(basis.shells)} ({basis.name}) differ from the "
                    f"dataset's {list(merged[symbol].shells)} ({merged[symbol].name})", path=path)
            merged.setdefault(symbol, basis)
        return BasisSet(merged)


# --------------------------------------------------------------------------- orbital orders
# For every convention and l: (perm, signs) with canonical[k] = signs[k] * other[perm[k]].
def _minus_one_power_m(l):
    return np.array([(-1.0) ** abs(m) for m in range(-l, l + 1)])


ORDER_CONVENTIONS = {
    # PySCF: p is (px, py, pz); l >= 2 already m = -l..l.
    "pyscf": {1: ([1, 2, 0], None)},
    # OpenMX / DeepH legacy: p (x, y, z); d (z², x²−y², xy, xz, yz); f (m0, m1, m-1, m2, m-2, m3, m-3).
    "openmx": {1: ([1, 2, 0], None), 2: ([2, 4, 0, 3, 1], None), 3: ([6, 4, 2, 0, 1, 3, 5], None)},
    # ABACUS: (m0, m1, m-1, m2, m-2, ...) and each function carries an extra (-1)^m.
    "abacus": {
        1: ([2, 0, 1], _minus_one_power_m(1)),
        2: ([4, 2, 0, 1, 3], _minus_one_power_m(2)),
        3: ([6, 4, 2, 0, 1, 3, 5], _minus_one_power_m(3)),
    },
    "canonical": {},
}


def shell_transform(l: int, convention: str) -> np.ndarray:
    """Orthogonal U with canonical = U @ other for one shell of angular momentum l."""
    try:
        table = ORDER_CONVENTIONS[convention]
    except KeyError:
        raise ValueError(f"unknown orbital convention {convention!r}; known: {sorted(ORDER_CONVENTIONS)}") from None
    size = 2 * l + 1
    if l not in table:
        if l > 3 and convention in ("openmx", "abacus"):
            raise ValueError(f"orbital convention {convention!r} is only tabulated up to l=3 (got l={l})")
        return np.eye(size)
    perm, signs = table[l]
    signs = np.ones(size) if signs is None else np.asarray(signs)
    transform = np.zeros((size, size))
    transform[np.arange(size), perm] = signs
    return transform


def _per_shell_block_diagonal(shells, shell_matrix) -> np.ndarray:
    """One atom's orbital matrix assembled from ``shell_matrix(l)`` for each of its shells."""
    cache = {}
    return scipy.linalg.block_diag(*[cache.setdefault(l, shell_matrix(l)) for l in shells]) if len(shells) \
        else np.zeros((0, 0))


def orbital_transform(shells, convention: str) -> np.ndarray:
    """Block-diagonal U (n × n) with canonical orbitals = U @ convention orbitals for one atom."""
    return _per_shell_block_diagonal(shells, lambda l: shell_transform(l, convention))


def convert_block(block, shells_i, shells_j, source: str, target: str, spinful: bool = False):
    """Re-express an orbital block (n_i × n_j, or 2n_i × 2n_j spin-major) from one order to another."""
    if source == target:
        return block
    left = orbital_transform(shells_i, target).T @ orbital_transform(shells_i, source)
    right = orbital_transform(shells_j, target).T @ orbital_transform(shells_j, source)
    if spinful:
        left, right = np.kron(np.eye(2), left), np.kron(np.eye(2), right)
    return left @ block @ right.T


# --------------------------------------------------------------------------- rotations
E3NN_FROM_XYZ = np.eye(3)[[1, 2, 0]]  # Q: (x, y, z) -> (y, z, x)


def to_e3nn_frame(vectors):
    """Cartesian vectors re-ordered (y, z, x) so that e3nn irreps match the canonical orbital order."""
    return vectors[..., [1, 2, 0]]


def real_spherical_harmonics(l: int, vectors) -> np.ndarray:
    """Real spherical harmonics of degree l in the canonical order (component normalisation)."""
    import torch
    from e3nn import o3

    vectors = torch.as_tensor(to_e3nn_frame(np.asarray(vectors, dtype=np.float64)), dtype=torch.float64)
    return o3.spherical_harmonics(l, vectors, normalize=True, normalization="component").numpy()


_SAMPLE_DIRECTIONS = np.random.default_rng(12345).normal(size=(64, 3))


def wigner_D(l: int, rotation) -> np.ndarray:
    """Real Wigner matrix of a proper or improper rotation in the canonical m = -l..l order.

    Orbitals of a rotated structure are ``D @ orbitals``; parity (-1)^l comes out for improper
    rotations. Solved from Y(R x) = D Y(x) on sample directions in float64 (e3nn's own
    D_from_matrix goes through float32 tables, ~1e-7 accurate)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    directions = _SAMPLE_DIRECTIONS[: max(4 * (2 * l + 1), 8)]
    before = real_spherical_harmonics(l, directions)
    after = real_spherical_harmonics(l, directions @ rotation.T)
    solution, *_ = np.linalg.lstsq(before, after, rcond=None)
    return solution.T


def su2_from_rotation(rotation) -> np.ndarray:
    """SU(2) matrix U of the proper part of a rotation (spin is axial: inversion leaves it alone).

    Defined up to an overall sign, which cancels in U H U†."""
    rotation = np.asarray(rotation, dtype=np.float64)
    proper = rotation * np.sign(np.linalg.det(rotation))
    angle = np.arccos(np.clip((np.trace(proper) - 1.0) / 2.0, -1.0, 1.0))
    if angle < 1e-12:
        return np.eye(2, dtype=complex)
    if np.pi - angle < 1e-6:
        # axis from the symmetric part: R = 2nnᵀ - I
        sym = (proper + np.eye(3)) / 2.0
        axis = sym[np.argmax(np.diag(sym))]
        axis = axis / np.linalg.norm(axis)
    else:
        axis = np.array([proper[2, 1] - proper[1, 2], proper[0, 2] - proper[2, 0], proper[1, 0] - proper[0, 1]])
        axis = axis / (2.0 * np.sin(angle))
    pauli = (np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]]))
    generator = sum(a * p for a, p in zip(axis, pauli))
    return np.cos(angle / 2.0) * np.eye(2) - 1j * np.sin(angle / 2.0) * generator


def orbital_rotation(shells, rotation) -> np.ndarray:
    """Block-diagonal Wigner matrix of one atom's orbitals."""
    return _per_shell_block_diagonal(shells, lambda l: wigner_D(l, rotation))


def rotate_block(block, shells_i, shells_j, rotation, spinful: bool = False):
    """The block between the same two atoms after the structure is rotated by ``rotation``."""
    left, right = orbital_rotation(shells_i, rotation), orbital_rotation(shells_j, rotation)
    if spinful:
        spin = su2_from_rotation(rotation)
        left, right = np.kron(spin, left), np.kron(spin, right)
    return left @ block @ right.conj().T
