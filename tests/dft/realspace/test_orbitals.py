"""Basis functions evaluated in torch equal PySCF's own, and vanish beyond their radius."""
import numpy as np
import pytest
import torch

from nextham.dft.realspace.orbitals import element_functions


@pytest.mark.parametrize("basis", ["SZV-MOLOPT-SR-GTH-q4", "DZVP-MOLOPT-SR-GTH-q4"])  # s, p; s, p, d
def test_values_equal_pyscf(basis):
    from pyscf.gto.eval_gto import eval_gto
    from pyscf.pbc import gto

    cell = gto.M(atom="Ge 0 0 0", a=np.eye(3) * 12, basis=basis, pseudo="GTH-PBE-q4", unit="B", verbose=0)
    points = np.random.default_rng(0).normal(size=(50, 3)) * 2.5
    functions = element_functions(cell, threshold=1e-8)["Ge"]
    assert functions.num_orbitals == cell.nao
    mine = functions.evaluate(torch.as_tensor(points)).numpy()
    np.testing.assert_allclose(mine, eval_gto(cell, "GTOval_sph", points), atol=1e-13)


def test_functions_are_below_the_threshold_beyond_their_radius():
    from pyscf.pbc import gto

    cell = gto.M(atom="Al 0 0 0", a=np.eye(3) * 12, basis="SZV-MOLOPT-SR-GTH-q3", pseudo="GTH-PBE-q3", unit="B",
                 verbose=0)
    for threshold in (1e-6, 1e-8):
        functions = element_functions(cell, threshold)["Al"]
        directions = np.random.default_rng(1).normal(size=(200, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        outside = functions.evaluate(torch.as_tensor(directions * (functions.radius + 0.01))).abs().max()
        inside = functions.evaluate(torch.as_tensor(directions * (functions.radius - 1.0))).abs().max()
        assert outside < threshold < inside
