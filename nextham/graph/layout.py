"""Padded orbital layout shared by every element of a dataset.

Each element's shells are placed into common slots: the k-th shell of angular momentum l of any
element goes to slot (l, k). With 2 s, 1 p and 1 d shells at most the layout is ``s s p d``
(12 orbitals). Equal slots mean equal irreps for every element pair, which the equivariant
decoder relies on; masks mark which padded orbitals exist.
"""
from __future__ import annotations

import numpy as np

from ..conventions import BasisSet


class OrbitalLayout:
    def __init__(self, basis: BasisSet):
        self.basis = basis
        max_count = {}
        for element in basis.elements.values():
            counts = {}
            for l in element.shells:
                counts[l] = counts.get(l, 0) + 1
            for l, n in counts.items():
                max_count[l] = max(max_count.get(l, 0), n)
        self.slots = [(l, k) for l in sorted(max_count) for k in range(max_count[l])]
        self.slot_ls = tuple(l for l, _ in self.slots)
        starts = np.concatenate([[0], np.cumsum([2 * l + 1 for l in self.slot_ls])]).astype(np.int64)
        self.slot_starts = starts[:-1]
        self.num_orbitals = int(starts[-1])
        self._positions = {}
        for symbol, element in basis.elements.items():
            seen, positions = {}, []
            for l in element.shells:
                k = seen.get(l, 0)
                seen[l] = k + 1
                start = self.slot_starts[self.slots.index((l, k))]
                positions.extend(range(start, start + 2 * l + 1))
            self._positions[symbol] = np.array(positions, dtype=np.int64)

    def orbital_positions(self, z: int) -> np.ndarray:
        """Padded index of each of the element's orbitals (in its storage order)."""
        return self._positions[self.basis.for_atomic_number(z).symbol]

    def orbital_mask(self, z: int) -> np.ndarray:
        mask = np.zeros(self.num_orbitals, dtype=bool)
        mask[self.orbital_positions(z)] = True
        return mask

    def describe(self) -> str:
        return " ".join("spdfghi"[l] for l in self.slot_ls) + f" ({self.num_orbitals} orbitals)"

    def __repr__(self):
        return f"OrbitalLayout({self.describe()}, elements={sorted(self._positions)})"
