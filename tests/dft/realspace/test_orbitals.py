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


def test_the_spherical_density_shortcut_is_taken_only_for_rotation_invariant_atoms():
    from pyscf.pbc import gto

    from nextham.dft.atomic_density import atomic_density_blocks

    cell = gto.M(atom="Ge 0 0 0", a=np.eye(3) * 12, basis="DZVP-MOLOPT-SR-GTH-q4", pseudo="GTH-PBE-q4", unit="B",
                 verbose=0)
    functions = element_functions(cell, threshold=1e-8)["Ge"]
    free_atom = atomic_density_blocks(cell)["Ge"]  # spherically averaged
    radial = functions.spherical_density(free_atom)
    assert radial is not None
    points = torch.as_tensor(np.random.default_rng(3).normal(size=(40, 3)) * 2.0)
    values = functions.evaluate(points)
    full = torch.einsum("pm,mn,pn->p", values, torch.as_tensor(free_atom), values)
    np.testing.assert_allclose(radial((points * points).sum(-1)).numpy(), full.numpy(), rtol=1e-12, atol=1e-14)
    polarised = np.zeros_like(free_atom)
    polarised[2, 2] = 1.0  # one p orbital: not rotation invariant
    assert functions.spherical_density(polarised) is None


def test_radial_and_general_density_paths_agree(monkeypatch):
    from pyscf.pbc import gto

    from nextham.dft.atomic_density import atomic_density_blocks
    from nextham.dft.realspace.grid import MeshBoxes
    from nextham.dft.realspace.orbitals import ElementFunctions

    cell = gto.M(atom="Si 0 0 0; C 1.6 1.6 1.6", a=(np.ones((3, 3)) - np.eye(3)) * 4.1, basis="SZV-MOLOPT-SR-GTH",
                 pseudo="GTH-PBE", unit="B", ke_cutoff=40, verbose=0)
    functions = element_functions(cell, threshold=1e-8)
    boxes = MeshBoxes(cell.atom_coords(), cell.lattice_vectors(), ["Si", "C"], functions, cell.mesh)
    atoms = atomic_density_blocks(cell)
    radial = boxes.density(atoms)
    monkeypatch.setattr(ElementFunctions, "spherical_density", lambda self, d, tolerance=0: None)
    general = boxes.density(atoms)
    np.testing.assert_allclose(radial.numpy(), general.numpy(), atol=1e-12)
    electrons = float(radial.sum()) * cell.vol / np.prod(cell.mesh)
    assert abs(electrons - cell.nelectron) < 1e-6


def test_tabulated_densities_equal_the_exponentials_they_replace():
    """The two-mesh ρ(0) sums splines of the free atoms' radial densities: to 1e-13 of the peak, the
    tight core of oxygen and a d-element included."""
    from pyscf.pbc import gto

    from nextham.dft.atomic_density import atomic_density_blocks
    from nextham.dft.realspace.orbitals import tabulated

    for atom, pseudo in (("O", "GTH-PBE"), ("Nb", "GTH-PBE-q13")):
        cell = gto.M(atom=f"{atom} 0 0 0", a=np.eye(3) * 14, basis="SZV-MOLOPT-SR-GTH", pseudo=pseudo, unit="B",
                     verbose=0)
        functions = element_functions(cell, threshold=1e-8)[atom]
        for part in functions.spherical_density(atomic_density_blocks(cell)[atom], split_at=0.28):
            r2 = torch.as_tensor(np.random.default_rng(6).random(20000)) * functions.radius ** 2
            exact = part(r2)
            assert (tabulated(part, functions.radius)(r2) - exact).abs().max() < 1e-13 * exact.abs().max()
            assert tabulated(part, 3.0)(torch.tensor([9.0 + 1e-9, 50.0], dtype=torch.float64)).abs().max() == 0.0
