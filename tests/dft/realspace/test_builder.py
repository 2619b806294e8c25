"""The real-space builder against the k-space path: the embedded dataset's blocks were made by the
k-space path (stored in float32), and one small crystal is computed both ways here."""
import numpy as np
import pytest
import torch

from nextham.conventions import units
from nextham.assets import embedded_dataset_path
from nextham.dft.generate import merge_engine_settings
from nextham.dft.prototypes import expand_entry
from nextham.structures import StructureSpec
from nextham.dft.engine_settings import PySCFSettings
from nextham.dft.cell import build_cell
from nextham.dft.pyscf_engine import compute_structure, zeroth_step_blocks
from nextham.io.shards import ShardedDataset, read_manifest
from nextham.record import check_eigenvalues

TOLERANCE_MEV = 0.05  # max |Δ| of any matrix element


@pytest.fixture(scope="module")
def embedded():
    return ShardedDataset(embedded_dataset_path()), read_manifest(embedded_dataset_path())["provenance"]


def _recipe(record, provenance):
    from ase.data import chemical_symbols

    symbols = [chemical_symbols[z] for z in record.atomic_numbers]
    overrides = {}
    for entry in provenance["library"]:
        if sorted(entry["elements"]) == sorted(symbols):
            overrides = entry.get("engine", {})
    settings = PySCFSettings.from_dict(merge_engine_settings(provenance["settings"], overrides))
    return StructureSpec(record.label, symbols, record.positions, record.lattice), settings


def max_difference_mev(new, reference, kinds):
    """Largest |Δ| over the reference's pairs (every one must be in ``new``), per kind, in meV (S unitless ×1000)."""
    lookup = {(int(i), int(j), *map(int, R)): e for e, ((i, j), R) in enumerate(zip(new.edge_index, new.cell_shifts))}
    out = {}
    for kind in kinds:
        mine, theirs = new.blocks(kind), reference.blocks(kind)
        out[kind] = 1000 * max(np.abs(mine[lookup[(int(i), int(j), *map(int, R))]] - theirs[e]).max()
                               for e, ((i, j), R) in enumerate(zip(reference.edge_index, reference.cell_shifts)))
    return out


def _zeroth_step_matches(dataset, provenance, label):
    reference = dataset.read(label)
    spec, settings = _recipe(reference, provenance)
    record, _ = zeroth_step_blocks(spec, settings)
    assert record.metadata["builder"] == "realspace"
    errors = max_difference_mev(record, reference, ("hamiltonian_0", "overlap"))
    assert errors["hamiltonian_0"] <= TOLERANCE_MEV and errors["overlap"] <= 1e-4, (label, errors)
    return errors


@pytest.mark.parametrize("label", ["Si-diamond-000", "AlSb-zincblende-002"])  # short and long basis tails
def test_zeroth_step_equals_the_stored_kspace_blocks(embedded, label):
    errors = _zeroth_step_matches(*embedded, label)
    assert errors["hamiltonian_0"] < 0.005  # measured 2e-4 meV, the float32 storage floor


@pytest.mark.slow
def test_every_embedded_structure(embedded):
    dataset, provenance = embedded
    labels = [label for label in dataset.labels if not dataset.read(label).spinful]
    assert len(labels) == 37
    for label in labels:
        _zeroth_step_matches(dataset, provenance, label)


@pytest.mark.slow
@pytest.mark.parametrize("label", ["Si-diamond-001", "C-diamond-000", "AlAs-zincblende-003"])
def test_converged_hamiltonian_equals_the_stored_one_and_passes_the_band_check(embedded, label):
    dataset, provenance = embedded
    reference = dataset.read(label)
    spec, settings = _recipe(reference, provenance)
    record, _ = compute_structure(spec, settings)
    errors = max_difference_mev(record, reference, ("hamiltonian", "hamiltonian_0", "overlap"))
    assert max(errors.values()) <= TOLERANCE_MEV, errors
    assert check_eigenvalues(record) <= settings.eigenvalue_tolerance_hartree * units.HARTREE_TO_EV
    assert "dense_k_s" not in record.metadata["timings"]  # no dense k-mesh was evaluated


@pytest.mark.slow
def test_live_kspace_and_realspace_paths_agree():
    spec = expand_entry({"prototype": "zincblende", "elements": ["B", "P"], "parameters": {"a": 4.538},
                         "variants": 2, "strain": 0.03, "rattle": 0.05})[1]
    # The k-space path spreads ρ(0) over the SCF's Born–von Kármán cell, which adds the overlap
    # density of each atom with its own image one such cell away; with a 6 Å SCF mesh that moved
    # H(0) by 5.8 meV. From 10 Å (the shipped recipes) it is below the storage precision.
    fast = dict(ke_cutoff_hartree=60.0, scf_kmesh_length_angstrom=10.0, ft_range_angstrom=12.5,
                pair_cutoff_angstrom=10.6, adaptive_pair_cutoff=False)
    kspace, _ = compute_structure(spec, PySCFSettings(**fast, builder="kspace"))
    realspace, _ = compute_structure(spec, PySCFSettings(**fast, builder="realspace"))
    assert realspace.num_edges == kspace.num_edges
    errors = max_difference_mev(realspace, kspace, ("hamiltonian", "hamiltonian_0", "overlap"))
    assert max(errors.values()) <= TOLERANCE_MEV, errors


def test_blocks_are_hermitian_before_symmetrisation():
    from nextham.dft.realspace import RealSpaceBuilder
    from nextham.dft.atomic_density import atomic_density_blocks

    spec = expand_entry({"prototype": "zincblende", "elements": ["Si", "C"], "parameters": {"a": 4.36},
                         "variants": 2, "strain": 0.03, "rattle": 0.05})[1]
    settings = PySCFSettings(ke_cutoff_hartree=40.0, pair_cutoff_angstrom=6.0)
    cell, _ = build_cell(spec, settings)
    # one mesh: the two-mesh sums complete each block from its transposed partner, hermitian by construction
    builder = RealSpaceBuilder(cell, "pbe", 6.0 * units.ANGSTROM_TO_BOHR, coarse_tolerance=0.0)
    h0 = builder.hamiltonian(builder.atomic_density(atomic_density_blocks(cell)))
    blocks = builder.blocks({"h": h0, "s": builder.overlap})
    worst = 0.0
    for (i, j, *shift), entry in blocks.items():
        partner = blocks[(j, i, *(-s for s in shift))]
        for name in ("h", "s"):
            worst = max(worst, np.abs(entry[name] - partner[name].T).max())
    assert worst < 1e-12
    bonds = max(np.abs(entry["h"]).max() for (i, j, *_), entry in blocks.items() if i != j)
    assert bonds > 0.05  # Hartree: real bonds, not empty blocks


@pytest.mark.slow
def test_a_supercell_equals_the_tiled_primitive_cell(embedded, monkeypatch):
    """The image bookkeeping of a 16-atom cell (fewer images, more atoms per box) against the
    2-atom cell it tiles, on the same mesh spacing. (The engine picks 49 points for the doubled
    25-point axis at this cutoff; that alone moves C's on-site blocks by 0.37 meV: the mesh
    quadrature's own error, shared by the k-space path and the SCF.)"""
    from ase.data import chemical_symbols

    from nextham.dft import pyscf_engine

    dataset, provenance = embedded
    reference = dataset.read("SiC-zincblende-000")
    spec, settings = _recipe(reference, provenance)
    primitive, _ = zeroth_step_blocks(spec, settings)
    mesh = build_cell(spec, settings)[0].mesh
    tiled = primitive.supercell((2, 2, 2))
    symbols = [chemical_symbols[z] for z in tiled.atomic_numbers]

    def doubled_mesh(*args):
        cell, basis = build_cell(*args)
        cell.mesh = [int(2 * n) for n in mesh]
        return cell, basis

    monkeypatch.setattr(pyscf_engine, "build_cell", doubled_mesh)
    record, _ = zeroth_step_blocks(StructureSpec("SiC-2x2x2", symbols, tiled.positions, tiled.lattice), settings)
    assert record.metadata["mesh"] == [2 * n for n in mesh]
    errors = max_difference_mev(record, tiled, ("hamiltonian_0", "overlap"))
    assert errors["hamiltonian_0"] <= 0.005 and errors["overlap"] <= 1e-4, errors


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(embedded):
    dataset, provenance = embedded
    spec, settings = _recipe(dataset.read("Si-diamond-000"), provenance)
    cpu, _ = zeroth_step_blocks(spec, settings)
    settings.device = "cuda"
    cuda, _ = zeroth_step_blocks(spec, settings)
    np.testing.assert_allclose(cuda.hamiltonian_0, cpu.hamiltonian_0, atol=1e-9)


def test_an_unknown_builder_is_refused():
    with pytest.raises(ValueError, match="engine.builder"):
        PySCFSettings.from_dict({"builder": "magic"})


def test_pseudopotential_pairs_left_out_do_not_move_the_blocks():
    """Pairs of two images each below √threshold at a pseudopotential centre are left out; with every
    image counted as strong the blocks are the same to 1e-6 meV (NbC: a d-element's long tails)."""
    from nextham.dft.realspace.analytic import ClusterIntegrals, pseudopotential
    from nextham.dft.realspace.pairs import PairBlocks

    spec = expand_entry({"prototype": "rocksalt", "elements": ["Nb", "C"], "parameters": {"a": 4.47}, "variants": 2,
                         "rattle": 0.05})[1]
    cell, _ = build_cell(spec, PySCFSettings(ke_cutoff_hartree=40.0, pair_cutoff_angstrom=6.0))
    from nextham.dft.realspace.orbitals import element_functions

    functions = element_functions(cell, 1e-8)
    symbols = [cell.atom_symbol(a) for a in range(cell.natm)]
    positions, lattice = cell.atom_coords(), cell.lattice_vectors()
    counts = [functions[s].num_orbitals for s in symbols]
    radius = np.array([functions[s].radius for s in symbols])
    strong = np.array([functions[s].radius_at(1e-4) for s in symbols])
    assert np.all(strong < radius)
    blocks = {}
    for name, strong_radius in (("screened", strong), ("all", radius)):
        target = PairBlocks(positions, lattice, 6.0 * units.ANGSTROM_TO_BOHR, counts)
        pseudopotential(ClusterIntegrals(cell, target.width), target, positions, lattice, radius, strong_radius)
        blocks[name] = target.blocks
    assert blocks["all"].abs().max() > 0.1
    assert (blocks["screened"] - blocks["all"]).abs().max() * units.HARTREE_TO_EV * 1000 < 1e-6
