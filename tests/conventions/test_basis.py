"""Orbital-order conventions checked against real two-centre overlap integrals from PySCF."""
import numpy as np
import pytest

from nextham.conventions import (ORDER_CONVENTIONS, BasisSet, ElementBasis, convert_block, orbital_rotation,
                                orbital_transform, rotate_block, shell_transform, su2_from_rotation, wigner_D)
from nextham.errors import BasisMismatchError, UnknownElementError
from tests.conftest import random_rotation

# one primitive per shell, s to f, on two different atoms
SPDF = [[0, [1.1, 1.0]], [1, [0.9, 1.0]], [2, [0.8, 1.0]], [3, [0.7, 1.0]]]


def _overlap_block(positions, rotation=None):
    from pyscf import gto

    if rotation is not None:
        positions = positions @ rotation.T
    mol = gto.M(atom=[("C", positions[0]), ("O", positions[1])], basis={"C": SPDF, "O": SPDF}, unit="Bohr",
                spin=None, verbose=0)
    overlap = mol.intor("int1e_ovlp")
    n = overlap.shape[0] // 2
    return overlap[:n, n:]


@pytest.mark.parametrize("improper", [False, True])
def test_pyscf_blocks_rotate_with_wigner_D_in_canonical_order(improper):
    shells = (0, 1, 2, 3)
    positions = np.array([[0.1, -0.2, 0.3], [1.2, 0.9, -0.7]])
    rotation = random_rotation(7, improper)
    to_canonical = lambda b: convert_block(b, shells, shells, "pyscf", "canonical")
    reference = to_canonical(_overlap_block(positions))
    rotated = to_canonical(_overlap_block(positions, rotation))
    expected = rotate_block(reference, shells, shells, rotation)
    assert np.abs(reference).max() > 0.05  # a real, non-trivial block
    np.testing.assert_allclose(rotated, expected, atol=1e-12)


def test_wigner_D_is_a_representation():
    a, b = random_rotation(1), random_rotation(2)
    for l in range(5):
        np.testing.assert_allclose(wigner_D(l, a @ b), wigner_D(l, a) @ wigner_D(l, b), atol=1e-10)
        np.testing.assert_allclose(wigner_D(l, a) @ wigner_D(l, a).T, np.eye(2 * l + 1), atol=1e-10)
    # e3nn irreps are the canonical order once rotations go to e3nn as Q R Qᵀ, Q: (x,y,z) -> (y,z,x)
    import torch
    from e3nn import o3

    from nextham.conventions import E3NN_FROM_XYZ
    in_e3nn_frame = torch.as_tensor(E3NN_FROM_XYZ @ a @ E3NN_FROM_XYZ.T)
    for l in range(4):
        np.testing.assert_allclose(o3.Irrep(l, 1).D_from_matrix(in_e3nn_frame).numpy(), wigner_D(l, a), atol=1e-5)
    # canonical p = (y, z, x)
    np.testing.assert_allclose(wigner_D(1, a), a[np.ix_([1, 2, 0], [1, 2, 0])], atol=1e-12)
    np.testing.assert_allclose(wigner_D(3, -np.eye(3)), -np.eye(7), atol=1e-12)


@pytest.mark.parametrize("convention", sorted(ORDER_CONVENTIONS))
def test_conventions_are_orthogonal_and_round_trip(convention):
    shells = (0, 0, 1, 1, 2, 3)
    transform = orbital_transform(shells, convention)
    np.testing.assert_allclose(transform @ transform.T, np.eye(len(transform)), atol=1e-15)
    rng = np.random.default_rng(0)
    block = rng.normal(size=(len(transform), len(transform)))  # arbitrary numbers: a pure relabelling test
    there = convert_block(block, shells, shells, "canonical", convention)
    np.testing.assert_allclose(convert_block(there, shells, shells, convention, "canonical"), block, atol=1e-14)


def test_documented_orders():
    # OpenMX p (x, y, z) -> canonical (y, z, x); d (z², x²−y², xy, xz, yz) -> (xy, yz, z², xz, x²−y²)
    xyz = np.array([10.0, 20.0, 30.0])  # values of (px, py, pz)
    np.testing.assert_array_equal(shell_transform(1, "openmx") @ xyz, [20.0, 30.0, 10.0])
    d_openmx = np.array([3.0, 5.0, 1.0, 4.0, 2.0])  # value k = canonical position of that function + 1
    np.testing.assert_array_equal(shell_transform(2, "openmx") @ d_openmx, [1, 2, 3, 4, 5])
    # ABACUS (m0, m1, m-1, ...) with (-1)^m: p (z, -x, -y)
    np.testing.assert_array_equal(shell_transform(1, "abacus") @ np.array([3.0, -1.0, -2.0]), [2.0, 3.0, 1.0])
    np.testing.assert_array_equal(shell_transform(1, "pyscf") @ np.array([1.0, 2.0, 3.0]), [2.0, 3.0, 1.0])


def test_su2_matches_the_rotation_of_spin():
    pauli = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]
    for seed in range(4):
        rotation = random_rotation(seed)
        spin = su2_from_rotation(rotation)
        np.testing.assert_allclose(spin @ spin.conj().T, np.eye(2), atol=1e-12)
        for k in range(3):  # U σ_k U† = Σ_j R_jk σ_j
            np.testing.assert_allclose(spin @ pauli[k] @ spin.conj().T,
                                       sum(rotation[j, k] * pauli[j] for j in range(3)), atol=1e-10)
    # inversion does not act on spin
    np.testing.assert_allclose(su2_from_rotation(-np.eye(3)), np.eye(2), atol=1e-12)


def test_spinful_rotation_of_a_spin_scalar_block_is_the_spinless_one():
    shells = (0, 1, 2)
    rotation = random_rotation(3)
    rng = np.random.default_rng(1)
    block = rng.normal(size=(9, 9))
    spinful = rotate_block(np.kron(np.eye(2), block), shells, shells, rotation, spinful=True)
    np.testing.assert_allclose(spinful, np.kron(np.eye(2), rotate_block(block, shells, shells, rotation)), atol=1e-12)
    assert orbital_rotation(shells, rotation).shape == (9, 9)


def test_basis_errors_name_the_element():
    basis = BasisSet({"Si": ElementBasis("Si", (0, 1))})
    with pytest.raises(UnknownElementError, match="element Ge has no basis"):
        basis["Ge"]
    with pytest.raises(BasisMismatchError, match="element Si"):
        basis.merge(BasisSet({"Si": ElementBasis("Si", (0, 0, 1))}))
    assert basis["Si"].num_orbitals == 4 and basis["Si"].describe() == "1s1p"
    assert BasisSet.from_dict(basis.to_dict()).to_dict() == basis.to_dict()
