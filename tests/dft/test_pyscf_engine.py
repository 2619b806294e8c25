"""The PySCF recipe on a real (small) crystal: units, orbital order, Fourier transform, refusal."""
import numpy as np
import pytest

from nextham.conventions import units
from nextham.conventions import convert_block
from nextham.errors import UnknownElementError, ValidationFailedError
from nextham.dft.prototypes import expand_entry
from nextham.dft.engine_settings import PySCFSettings
from nextham.dft.cell import build_cell
from nextham.dft.pyscf_engine import compute_structure
from nextham.record import check_eigenvalues

FAST = dict(ke_cutoff_hartree=40.0, scf_kmesh_length_angstrom=6.0, ft_range_angstrom=12.5,
            pair_cutoff_angstrom=10.6, min_pair_cutoff_angstrom=6.0, conv_tol=1e-10, conv_tol_grad=1e-6)


@pytest.fixture(scope="module")
def silicon():
    spec = expand_entry({"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431},
                         "variants": 2, "strain": 0.02, "rattle": 0.05})[1]  # strained and rattled: no symmetry
    record, basis = compute_structure(spec, PySCFSettings(**FAST))
    return spec, record, basis


@pytest.mark.slow
def test_stored_blocks_reproduce_the_scf_bands(silicon):
    spec, record, basis = silicon
    record.validate()
    tolerance_ev = 1e-5 * units.HARTREE_TO_EV
    assert check_eigenvalues(record) <= tolerance_ev
    assert record.metadata["eigenvalue_check_ev"] <= tolerance_ev
    assert record.metadata["pair_cutoff_angstrom"] <= FAST["pair_cutoff_angstrom"] + 1e-9
    assert record.metadata["max_abs_delta_h_ev"] > 1e-3  # H(T) differs from H(0): there is something to learn


@pytest.mark.slow
def test_units_against_pyscf(silicon):
    spec, record, basis = silicon
    from pyscf.pbc import dft

    cell, _ = build_cell(spec, PySCFSettings(**FAST))
    # positions and lattice stay in Å; PySCF holds them in Bohr
    np.testing.assert_allclose(record.lattice, cell.lattice_vectors() * units.BOHR_TO_ANGSTROM, rtol=1e-7)
    np.testing.assert_allclose(record.positions, cell.atom_coords() * units.BOHR_TO_ANGSTROM, rtol=1e-7, atol=1e-9)
    # fractional k of the stored reference points are PySCF's Cartesian 1/Bohr k-points
    np.testing.assert_allclose(cell.get_abs_kpts(record.reference_kpoints),
                               cell.make_kpts(record.metadata["scf_kmesh"]), atol=1e-12)
    # eigenvalues are stored in eV: the gap in eV matches the SCF's own Hartree gap
    nocc = cell.nelectron // 2
    assert record.num_electrons == cell.nelectron
    eigenvalues = np.sort(record.reference_eigenvalues, axis=1)
    vbm, cbm = eigenvalues[:, nocc - 1].max(), eigenvalues[:, nocc].min()
    assert record.metadata["scf_band_gap_ev"] == pytest.approx(cbm - vbm)
    # E_F from the electron count, mid-gap of the band edges converged over the mesh and the path (the
    # SCF's own mesh can miss them): every occupied state lies below it and every empty one above
    assert record.metadata["fermi_method"] == "mid-gap" and record.metadata["fermi_converged"]
    assert vbm <= record.metadata["vbm_ev"] < record.fermi_energy < record.metadata["cbm_ev"] <= cbm
    assert record.fermi_energy == pytest.approx(0.5 * (record.metadata["vbm_ev"] + record.metadata["cbm_ev"]))
    assert record.metadata["band_gap_ev"] == pytest.approx(record.metadata["cbm_ev"] - record.metadata["vbm_ev"])
    mf = dft.KRKS(cell, cell.make_kpts(record.metadata["scf_kmesh"]), xc="pbe")
    assert mf.cell.unit == "A"


@pytest.mark.slow
def test_overlap_blocks_equal_direct_two_centre_integrals(silicon):
    """S(R) from the Fourier transform = exact molecular overlap integrals, in canonical order."""
    spec, record, basis = silicon
    from pyscf import gto

    cell, element_basis = build_cell(spec, PySCFSettings(**FAST))
    shells = element_basis["Si"].shells
    positions = cell.atom_coords()
    mol = gto.M(atom=[(cell.atom_symbol(i), c) for i, c in enumerate(positions)], basis=cell._basis, unit="Bohr",
                spin=None, verbose=0)
    slices = [slice(p0, p1) for (_, _, p0, p1) in cell.aoslice_by_atom()]
    overlaps = record.blocks("overlap")
    distances = record.edge_distances()
    checked = 0
    for e, ((i, j), shift) in enumerate(zip(record.edge_index, record.cell_shifts)):
        if distances[e] > 6.0:
            continue
        shifted = mol.copy()
        shifted.set_geom_(positions + shift @ cell.lattice_vectors(), unit="Bohr")
        direct = gto.intor_cross("int1e_ovlp", mol, shifted)[slices[i], slices[j]]
        np.testing.assert_allclose(overlaps[e], convert_block(direct, shells, shells, "pyscf", "canonical"), atol=1e-8)
        checked += 1
    assert checked > 20


@pytest.mark.slow
def test_hermiticity_is_exact(silicon):
    _, record, _ = silicon
    lookup = record.edge_lookup()
    for kind in ("hamiltonian_0", "hamiltonian", "overlap"):
        blocks = record.blocks(kind)
        for (i, j, *shift), e in lookup.items():
            np.testing.assert_array_equal(blocks[e], blocks[lookup[(j, i, *(-s for s in shift))]].T)


@pytest.mark.slow
def test_refuses_blocks_that_miss_the_tolerance(silicon):
    spec, _, _ = silicon
    settings = PySCFSettings(**{**FAST, "pair_cutoff_angstrom": 4.0, "min_pair_cutoff_angstrom": 4.0})
    with pytest.raises(ValidationFailedError, match="differ from the SCF's"):
        compute_structure(spec, settings)


def test_element_without_basis_is_named():
    spec = expand_entry({"prototype": "rocksalt", "elements": ["La", "N"], "parameters": {"a": 5.3}})[0]
    with pytest.raises(UnknownElementError, match="La"):
        build_cell(spec, PySCFSettings(**FAST))


def test_only_settings_that_act_are_recorded(embedded):
    """``soc.xc_mesh`` had no effect (density fitting integrates on Becke grids): it is gone from the
    settings and the manifest, and a manifest of an earlier version still loads."""
    assert "xc_mesh" not in PySCFSettings().to_dict()["soc"]
    recorded = embedded.manifest["provenance"]["settings"]
    assert "xc_mesh" not in recorded["soc"]
    old = {**recorded, "soc": {**recorded["soc"], "xc_mesh": [36, 36, 36]}}
    assert PySCFSettings.from_dict(old).to_dict() == PySCFSettings.from_dict(recorded).to_dict()
