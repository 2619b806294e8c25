"""The two-mesh sums against the engine's one mesh: the same blocks and densities to well below the
float32 storage floor, for sp- and d-element cells."""
import math

import numpy as np
import pytest
import torch

from nextham.conventions import units
from nextham.dft.atomic_density import atomic_density_blocks
from nextham.dft.cell import build_cell
from nextham.dft.engine_settings import PySCFSettings
from nextham.dft.prototypes import expand_entry
from nextham.dft.realspace import RealSpaceBuilder
from nextham.dft.realspace.multigrid import resample
from nextham.dft.realspace.orbitals import element_functions
from nextham.dft.realspace.potential import structure_factor


def _trigonometric(mesh, frequencies, seed=0):
    """A real periodic function with random coefficients on |m_k| ≤ frequencies, and its sampler."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(-f, f + 1) for f in frequencies], indexing="ij"), -1).reshape(-1, 3)
    amplitudes = rng.normal(size=len(grid)) + 1j * rng.normal(size=len(grid))

    def sample(shape):
        axes = [np.arange(n) / n for n in shape]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
        phases = np.exp(2j * math.pi * points @ grid.T)
        return torch.as_tensor((phases @ amplitudes).real)

    return sample


def test_resampling_a_band_limited_function_is_exact_both_ways():
    sample = _trigonometric((15, 16, 17), (3, 3, 4))
    fine, coarse = sample((15, 16, 17)), sample((8, 8, 9))
    np.testing.assert_allclose(resample(fine, (8, 8, 9)).numpy(), coarse.numpy(), atol=1e-10)
    np.testing.assert_allclose(resample(coarse, (15, 16, 17)).numpy(), fine.numpy(), atol=1e-10)


def test_resampling_drops_what_the_coarse_mesh_cannot_hold():
    low = _trigonometric((16,) * 3, (2, 2, 2), seed=1)
    x = torch.arange(16, dtype=torch.float64) / 16
    beyond = torch.cos(2 * math.pi * 6 * x)[:, None, None] * torch.cos(2 * math.pi * x)[None, :, None]  # m = (±6, ±1, 0)
    # a 5-point axis holds |m| ≤ 2: the low function passes, the m = 6 wave is dropped (not aliased onto m = 1)
    assert (resample(low((16,) * 3) + beyond.expand(16, 16, 16), (5, 5, 5)) - low((5, 5, 5))).abs().max() < 1e-10


def test_structure_factor_equals_the_direct_sum():
    rng = np.random.default_rng(4)
    fractional, mesh = rng.random((7, 3)), (6, 5, 7)
    integers = np.stack(np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in mesh], indexing="ij"), -1)
    direct = np.exp(-2j * math.pi * integers @ fractional.T).sum(-1)
    np.testing.assert_allclose(structure_factor(fractional, mesh, "cpu", chunk=3).numpy(), direct, atol=1e-11)


def test_tight_and_diffuse_parts_add_up_to_the_functions():
    from pyscf.pbc import gto

    cell = gto.M(atom="Ge 0 0 0", a=np.eye(3) * 12, basis="DZVP-MOLOPT-SR-GTH-q4", pseudo="GTH-PBE-q4", unit="B",
                 verbose=0)
    functions = element_functions(cell, threshold=1e-8)["Ge"]
    tight = functions.restricted(lambda e: e > 0.3, 1e-8)
    diffuse = functions.restricted(lambda e: e <= 0.3, 1e-8)
    points = torch.as_tensor(np.random.default_rng(5).normal(size=(60, 3)) * 2.5)
    np.testing.assert_allclose((tight.evaluate(points) + diffuse.evaluate(points)).numpy(),
                               functions.evaluate(points).numpy(), atol=1e-14)
    assert tight.radius < diffuse.radius <= functions.radius
    assert functions.restricted(lambda e: e > 1e9, 1e-8).radius == 0.0  # nothing left: zero everywhere
    assert not functions.restricted(lambda e: e > 1e9, 1e-8).evaluate(points).any()


@pytest.mark.parametrize("entry", [
    {"prototype": "zincblende", "elements": ["Si", "C"], "parameters": {"a": 4.36}, "variants": 2, "rattle": 0.05},
    {"prototype": "cesium_chloride", "elements": ["Ni", "Al"], "parameters": {"a": 2.88}, "variants": 2,
     "rattle": 0.05},
], ids=["SiC", "NiAl"])
def test_two_meshes_give_the_blocks_of_one(entry):
    spec = expand_entry(entry)[1]
    settings = PySCFSettings(ke_cutoff_hartree=60.0, pair_cutoff_angstrom=6.0)
    cell, _ = build_cell(spec, settings)
    free_atoms = atomic_density_blocks(cell)
    built = {}
    for tolerance in (0.0, 1e-8):
        builder = RealSpaceBuilder(cell, "pbe", 6.0 * units.ANGSTROM_TO_BOHR, coarse_tolerance=tolerance)
        assert (builder.two_meshes is not None) == (tolerance > 0)
        rho = builder.atomic_density(free_atoms)
        built[tolerance] = rho, builder.hamiltonian(rho).blocks
    (rho_one, h_one), (rho_two, h_two) = built[0.0], built[1e-8]
    assert (rho_two - rho_one).abs().max() < 1e-9 * rho_one.abs().max()
    assert (h_two - h_one).abs().max() * units.HARTREE_TO_EV * 1000 < 5e-4  # meV; the float32 floor is 2e-4
    assert h_one.abs().max() > 0.1  # real blocks
