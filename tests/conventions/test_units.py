import numpy as np
import pytest

from nextham.conventions import units


def test_constants_agree_with_pyscf():
    from pyscf.data import nist

    # PySCF carries CODATA 2010/2014 values; ours are CODATA 2018: same to 1e-8 relative
    assert units.HARTREE_TO_EV == pytest.approx(nist.HARTREE2EV, rel=1e-8)
    assert units.BOHR_TO_ANGSTROM == pytest.approx(nist.BOHR, rel=1e-8)


def test_round_trips_and_rydberg():
    values = np.array([-1.5, 0.0, 2.25])
    np.testing.assert_allclose(units.ev_to_hartree(units.hartree_to_ev(values)), values, rtol=1e-15)
    np.testing.assert_allclose(units.angstrom_to_bohr(units.bohr_to_angstrom(values)), values, rtol=1e-15)
    assert units.RYDBERG_TO_EV * 2 == pytest.approx(units.HARTREE_TO_EV)
    assert units.hartree_to_ev(1.0) == pytest.approx(27.211386245988)
    assert units.bohr_to_angstrom(1.0) == pytest.approx(0.529177210903)
