"""The orbital layout: slots of a basis family, elements that fit them, and those that do not."""
import pytest

from nextham.conventions import BasisSet
from nextham.conventions.basis import ElementBasis
from nextham.errors import BasisMismatchError
from nextham.data.layout import OrbitalLayout


def _basis(**shells):
    return BasisSet({symbol: ElementBasis(symbol, tuple(ls)) for symbol, ls in shells.items()})


def test_default_slots_hold_exactly_the_elements_given():
    layout = OrbitalLayout(_basis(Si=(0, 1), Cs=(0, 0, 1, 2)))
    assert layout.slots == [(0, 0), (0, 1), (1, 0), (2, 0)] and layout.describe() == "s s p d (10 orbitals)"
    assert list(layout.orbital_positions(14)) == [0, 2, 3, 4]  # Si: first s slot, then p


def test_family_slots_admit_an_element_the_dataset_lacks():
    family = [(0, 0), (0, 1), (1, 0), (2, 0)]
    layout = OrbitalLayout(_basis(Si=(0, 1)), family)
    assert layout.num_orbitals == 10 and layout.fits((0, 0, 1, 2)) and not layout.fits((0, 1, 1))
    wider = layout.with_elements(_basis(Zn=(0, 1, 2)))
    assert wider.slots == layout.slots and list(wider.orbital_positions(30)) == [0, 2, 3, 4, 5, 6, 7, 8, 9]
    assert list(wider.orbital_positions(14)) == list(layout.orbital_positions(14))
    with pytest.raises(BasisMismatchError, match="do not fit the orbital layout"):
        OrbitalLayout(_basis(Ce=(0, 0, 1, 2, 3)), family)


def test_the_engine_family_layout_is_s_s_p_d():
    from nextham.configs import load_config
    from nextham.dft.generate import orbital_layout

    layout = orbital_layout(load_config("data/embedded.yaml")["engine"])
    assert layout["slots"] == [[0, 0], [0, 1], [1, 0], [2, 0]] and layout["family"].startswith("SZV-MOLOPT-SR-GTH")
