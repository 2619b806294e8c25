"""Atomic-orbital basis sets: the radial functions (shells) of each element, in storage order."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from ..errors import BasisMismatchError, UnknownElementError
from .elements import atomic_number, element_symbol

SHELL_LETTERS = "spdfghi"


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

    @property
    def valence_electrons(self) -> int | None:
        """Electrons of the neutral atom its pseudopotential keeps, read from the name: the q of GTH
        names (GTH-PBE-q4), Z minus the core of ECP names (ECPDS46MDFSO: 46 core electrons); None when
        the name says neither (then a network that reads H(0)'s populations cannot use this element)."""
        gth = re.search(r"-q(\d+)$", self.pseudopotential)
        if gth:
            return int(gth.group(1))
        ecp = re.match(r"ECP\D*(\d+)", self.pseudopotential)
        if ecp:
            return atomic_number(self.symbol) - int(ecp.group(1))
        return None

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

    def neutral_electrons(self, atomic_numbers) -> float:
        """Valence electrons of the neutral cell of ``atomic_numbers`` (each element's pseudopotential
        valence, :attr:`ElementBasis.valence_electrons`); NaN when an element's name does not say it."""
        counts = [self.for_atomic_number(int(z)).valence_electrons for z in atomic_numbers]
        return float(sum(counts)) if all(count is not None for count in counts) else float("nan")

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


def block_diagonal_over_shells(shells, shell_matrix) -> np.ndarray:
    """One atom's orbital matrix assembled from ``shell_matrix(l)`` for each of its shells."""
    cache = {}
    return scipy.linalg.block_diag(*[cache.setdefault(l, shell_matrix(l)) for l in shells]) if len(shells) \
        else np.zeros((0, 0))


def shell_counts(shells) -> dict:
    """{l: number of radial functions of angular momentum l}."""
    counts = {}
    for l in shells:
        counts[int(l)] = counts.get(int(l), 0) + 1
    return counts


def slots_for(shell_lists) -> list:
    """The fewest slots that hold every one of ``shell_lists``: (l, k) for k below the largest count of l
    (the padded orbital layout's slots, :class:`nextham.data.layout.OrbitalLayout`)."""
    max_count = {}
    for shells in shell_lists:
        for l, n in shell_counts(shells).items():
            max_count[l] = max(max_count.get(l, 0), n)
    return [(l, k) for l in sorted(max_count) for k in range(max_count[l])]
