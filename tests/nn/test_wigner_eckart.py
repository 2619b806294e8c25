"""Wigner–Eckart converter: exact round trip and equivariance for s..f shells, spinless and spinful."""
import numpy as np
import pytest
import scipy.linalg
import torch
from e3nn import o3

from nextham.conventions import wigner_D
from nextham.testing import rotate_padded_blocks
from nextham.nn.wigner_eckart import BlockIrreps
from tests.conftest import random_rotation

SLOTS = (0, 0, 1, 1, 2, 3)  # s s p p d f: every shell pair from s-s to f-f


def irreps_matrix(irreps, rotation):
    """Block-diagonal representation of a proper or improper rotation on real irreps (float64)."""
    det = np.sign(np.linalg.det(rotation))
    blocks = []
    for mul, ir in o3.Irreps(irreps):
        matrix = wigner_D(ir.l, rotation * det) * (ir.p if det < 0 else 1)
        blocks += [matrix] * mul
    return scipy.linalg.block_diag(*blocks)


def random_blocks(spinful, seed=0):
    """Random numbers in block shape: the converter is a linear map, tested on arbitrary input."""
    rng = np.random.default_rng(seed)
    n = sum(2 * l + 1 for l in SLOTS) * (2 if spinful else 1)
    blocks = rng.normal(size=(4, n, n))
    return blocks + 1j * rng.normal(size=(4, n, n)) if spinful else blocks


@pytest.mark.parametrize("spinful", [False, True])
def test_round_trip_is_exact(spinful):
    converter = BlockIrreps(SLOTS, spinful=spinful)
    blocks = torch.as_tensor(random_blocks(spinful))
    irreps = converter.to_irreps(blocks)
    assert irreps.shape[-1] == converter.irreps.dim == blocks[0].numel() * (2 if spinful else 1)
    torch.testing.assert_close(converter.from_irreps(irreps), blocks, atol=1e-13, rtol=0)
    torch.testing.assert_close(converter.from_sorted_irreps(converter.to_sorted_irreps(blocks)), blocks,
                               atol=1e-13, rtol=0)
    # an isometry: nothing is lost or weighted
    torch.testing.assert_close(irreps.norm(dim=-1), blocks.abs().reshape(4, -1).norm(dim=-1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("spinful", [False, True])
@pytest.mark.parametrize("improper", [False, True])
def test_irreps_rotate_with_the_blocks(spinful, improper):
    converter = BlockIrreps(SLOTS, spinful=spinful)
    rotation = random_rotation(4, improper)
    blocks = random_blocks(spinful)
    turned = rotate_padded_blocks(blocks, SLOTS, rotation, spinful)
    before = converter.to_sorted_irreps(torch.as_tensor(blocks)).numpy()
    after = converter.to_sorted_irreps(torch.as_tensor(turned)).numpy()
    np.testing.assert_allclose(after, before @ irreps_matrix(converter.irreps_sorted, rotation).T, atol=1e-12)


def test_spinful_decomposition_is_l1_l2_times_0_plus_1():
    spinless, spinful = BlockIrreps((1, 2)), BlockIrreps((1, 2), spinful=True)
    spin_vector = o3.Irrep("1e")  # the spin part of σ is axial
    coupled = o3.Irreps([(1, ir) for _, orbital in spinless.irreps for ir in orbital * spin_vector])
    expected = (spinless.irreps + coupled).sort().irreps.simplify()
    assert spinful.complex_irreps.sort().irreps.simplify() == expected
    assert spinful.irreps.dim == 2 * 4 * spinless.irreps.dim  # real and imaginary parts of 4 spin components
