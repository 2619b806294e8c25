"""The SCF and the real-space builder integrate the GTH pseudopotential the same way, exactly: the
non-local projectors and the short-range local part as analytic lattice sums, the long-range part from
its analytic Fourier coefficients. PySCF's default sums the projectors over the mesh's G vectors, which
for the tight projectors of semicore states (Na q9, V q13) is far from converged at 80 Ha."""
import numpy as np
import pytest
from ase.build import bulk

from nextham.dft.engine_settings import PySCFSettings

from nextham.dft.cell import build_cell

from nextham.dft.operators import gth_core_hamiltonian
from nextham.dft.realspace.potential import pseudo_charge_density
from nextham.predict import structure_spec


def _cell(atoms, cutoff):
    return build_cell(structure_spec(atoms, "cell"), PySCFSettings(ke_cutoff_hartree=cutoff))[0]


def _pyscf_non_local(cell, kpoints):
    """PySCF's default pseudopotential (FFTDF) less its local part on the mesh: the projectors summed
    over the mesh's G vectors."""
    from pyscf import lib
    from pyscf.pbc import df, tools
    from pyscf.pbc.gto import pseudo

    grid = df.FFTDF(cell, kpoints)
    full = np.asarray(grid.get_pp(kpoints))
    mesh = grid.mesh
    weighted = tools.ifft(-np.einsum("ij,ij->j", cell.get_SI(mesh=mesh), pseudo.get_vlocG(cell, cell.get_Gv(mesh))),
                          mesh).real
    local = np.zeros_like(full)
    for values, p0, p1 in grid.aoR_loop(grid.grids, kpoints):
        for k, ao in enumerate(values[0]):
            local[k] += lib.dot(ao.T.conj() * weighted[p0:p1], ao)
    return full - local


def test_the_core_hamiltonian_is_pyscfs_where_its_mesh_suffices_and_its_projectors_are_converged():
    from pyscf.pbc import dft
    from pyscf.pbc.gto.pseudo import pp_int

    silicon = _cell(bulk("Si", "diamond", a=5.43), 80.0)
    kpoints = silicon.make_kpts([2, 2, 2])
    np.testing.assert_allclose(gth_core_hamiltonian(silicon, kpoints), dft.KRKS(silicon, kpoints).get_hcore(),
                               atol=1e-7)
    # sodium's q9 projectors: PySCF's G-space sum is off by 1e-2 Ha at 80 Ha and tends to the analytic
    # lattice sum that gth_core_hamiltonian (and the builder) take
    salt = bulk("NaCl", "rocksalt", a=5.64)
    for cutoff, error in ((80.0, (5e-3, 5e-2)), (400.0, (0.0, 5e-5))):
        cell = _cell(salt, cutoff)
        kpoints = cell.make_kpts([2, 2, 2])[1:3]
        difference = np.abs(_pyscf_non_local(cell, kpoints) - np.asarray(pp_int.get_pp_nl(cell, kpoints))).max()
        assert error[0] <= difference < error[1], (cutoff, difference)  # seen: 1.3e-2 Ha at 80 Ha


def test_pseudo_charges_from_their_fourier_series_hold_the_charge_and_match_wide_gaussians_sampled():
    cell = _cell(bulk("Si", "diamond", a=5.43), 80.0)
    lattice, mesh = cell.lattice_vectors(), tuple(cell.mesh)
    positions = cell.atom_coords()
    weight = cell.vol / np.prod(mesh)
    density = pseudo_charge_density(lattice, mesh, positions, [4.0, 4.0], [0.44, 0.44], "cpu")
    assert float(density.sum()) * weight == pytest.approx(-8.0, abs=1e-10)
    # a wide Gaussian (no aliasing at this mesh) sampled point by point, with its images
    wide = 1.0
    grid = np.stack(np.meshgrid(*[np.arange(n) / n for n in mesh], indexing="ij"), -1).reshape(-1, 3) @ lattice
    images = np.array(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij")).reshape(3, -1).T @ lattice
    sampled = np.zeros(len(grid))
    for position in positions:
        r2 = ((grid[:, None, :] - position - images[None]) ** 2).sum(-1)
        sampled += (-4.0 * (2 * np.pi * wide ** 2) ** -1.5 * np.exp(-r2 / (2 * wide ** 2))).sum(1)
    series = pseudo_charge_density(lattice, mesh, positions, [4.0, 4.0], [wide, wide], "cpu").numpy().reshape(-1)
    np.testing.assert_allclose(series, sampled, atol=1e-9)


@pytest.mark.slow
def test_sodium_chloride_passes_the_band_check_at_80_hartree():
    """NaCl missed the check even at 200 Ha (2e-4 Ha in Na 2s) while the SCF's projectors were summed on
    the mesh; with both sides exact and 16 Å of pairs for Na's diffuse 3s it passes at 80 Ha."""
    from nextham.conventions import units
    from nextham.dft.pyscf_engine import compute_structure
    from nextham.record import check_eigenvalues

    settings = PySCFSettings(ke_cutoff_hartree=80.0, pair_cutoff_angstrom=16.0, ft_range_angstrom=18.5,
                             scf_kmesh_length_angstrom=6.0, adaptive_pair_cutoff=False, eigenvalue_tolerance_hartree=1.0)
    record, _ = compute_structure(structure_spec(bulk("NaCl", "rocksalt", a=5.64), "NaCl"), settings)
    assert check_eigenvalues(record) / units.HARTREE_TO_EV < 1e-5  # seen: 6.5e-8 Ha
