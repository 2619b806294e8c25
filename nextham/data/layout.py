"""Padded orbital layout shared by every element a model handles.

Each element's shells are placed into common slots: the k-th shell of angular momentum l of any
element goes to slot (l, k). With 2 s, 1 p and 1 d shells at most the layout is ``s s p d``
(10 orbitals). Equal slots mean equal irreps for every element pair, which the equivariant
decoder relies on; masks mark which padded orbitals exist.

The slots come from the basis family a dataset was generated with (``manifest["orbital_layout"]``,
written by ``nextham data generate``), not from the elements it happens to hold, so that a model
trained on it predicts any element of the family whose shells fit; without that entry (imported
data) they come from the dataset's own elements.
"""
from __future__ import annotations

import numpy as np

from ..conventions import BasisSet
from ..conventions.basis import shell_counts, slots_for
from ..errors import BasisMismatchError


class OrbitalLayout:
    def __init__(self, basis: BasisSet, slots=None):
        """``slots``: [(l, k)] to use (a basis family's, a checkpoint's); by default the fewest that hold
        ``basis``. Every element of ``basis`` must fit the slots."""
        self.basis = basis
        self.slots = [tuple(map(int, s)) for s in slots] if slots is not None \
            else slots_for(e.shells for e in basis.elements.values())
        self.slots = sorted(self.slots)
        self.slot_ls = tuple(l for l, _ in self.slots)
        starts = np.concatenate([[0], np.cumsum([2 * l + 1 for l in self.slot_ls])]).astype(np.int64)
        self.slot_starts = starts[:-1]
        self.num_orbitals = int(starts[-1])
        for element in basis.elements.values():
            if not self.fits(element.shells):
                raise BasisMismatchError(f"element {element.symbol}: shells {element.describe()} ({element.name}) do "
                                         f"not fit the orbital layout {self.describe()}")
        self._positions = {}
        for symbol, element in basis.elements.items():
            seen, positions = {}, []
            for l in element.shells:
                k = seen.get(l, 0)
                seen[l] = k + 1
                start = self.slot_starts[self.slots.index((l, k))]
                positions.extend(range(start, start + 2 * l + 1))
            self._positions[symbol] = np.array(positions, dtype=np.int64)

    def fits(self, shells) -> bool:
        """Whether an element with these shells has a slot for each of them."""
        return all((l, k) in self.slots for l, n in shell_counts(shells).items() for k in range(n))

    def with_elements(self, basis: BasisSet) -> "OrbitalLayout":
        """The same slots, for more elements (an element a model never saw, whose shells fit)."""
        return OrbitalLayout(self.basis.merge(basis), self.slots)

    def to_dict(self) -> dict:
        return {"slots": [list(s) for s in self.slots], "describe": self.describe()}

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
