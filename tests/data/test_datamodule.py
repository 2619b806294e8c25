"""Padded graph batches, edge-budget batching and the DDP split."""
import numpy as np
import pytest
import torch

from nextham.conventions import atomic_number
from nextham.data.datamodule import EdgeBudgetBatchSampler, HamiltonianDataModule
from nextham.data.batch import collate_graphs, record_to_sample
from nextham.data.layout import OrbitalLayout


@pytest.fixture(scope="module")
def datamodule():
    return HamiltonianDataModule(edge_budget=1500, max_edge_length_angstrom=8.0)


def test_layout_slots(embedded):
    layout = OrbitalLayout(embedded.basis)
    for symbol, element in embedded.basis.elements.items():
        positions = layout.orbital_positions(atomic_number(symbol))
        assert len(positions) == element.num_orbitals and len(set(positions)) == len(positions)
        ls = [layout.slot_ls[np.searchsorted(layout.slot_starts, p, side="right") - 1] for p in positions]
        assert ls == [l for l in element.shells for _ in range(2 * l + 1)]  # every orbital lands in a slot of its l


def test_batches_hold_the_stored_blocks(datamodule):
    batch = next(iter(datamodule.train_dataloader()))
    assert batch.spinful == datamodule.spinful
    assert int(batch.num_edges.sum()) == batch.edge_index.shape[1] == batch.hamiltonian.shape[0]
    assert float(batch.edge_lengths.max()) <= 8.0 + 1e-9
    # nothing outside the masks, everything inside comes from the record
    assert torch.all(batch.hamiltonian[~batch.orbital_mask] == 0) and torch.all(batch.overlap[~batch.overlap_mask] == 0)
    record = datamodule.dataset.read(batch.labels[0])
    kept = record.select_edges(record.edge_distances() <= 8.0 + 1e-9)
    first_blocks = kept.blocks("hamiltonian")
    mask = batch.orbital_mask[0]
    values = batch.hamiltonian[0][mask].numpy()
    expected = np.kron(np.eye(2), first_blocks[0]) if batch.spinful and not kept.spinful else first_blocks[0]
    np.testing.assert_allclose(np.sort(values.real.ravel()), np.sort(np.asarray(expected).real.ravel()), rtol=1e-6)
    # edge vectors are τ_j + R·L − τ_i
    i, j = batch.edge_index
    shift = torch.einsum("ec,ecd->ed", batch.cell_shifts.to(batch.lattice.dtype), batch.lattice[batch.edge_batch])
    torch.testing.assert_close(batch.edge_vectors, batch.positions[j] + shift - batch.positions[i])


def test_spinful_batches_keep_hermiticity(datamodule):
    for batch in datamodule.train_dataloader():
        h = batch.hamiltonian
        lookup = {(int(a), int(b), *batch.cell_shifts[e].tolist()): e for e, (a, b) in enumerate(batch.edge_index.T)}
        for (a, b, *shift), e in lookup.items():
            partner = lookup[(b, a, *(-s for s in shift))]
            assert int(batch.reverse_edge[e]) == partner
            torch.testing.assert_close(h[e], h[partner].conj().T)
        break


def test_edge_budget_and_ddp_split():
    rng = np.random.default_rng(0)
    shards, counts = rng.integers(0, 5, size=40), rng.integers(100, 900, size=40)
    single = EdgeBudgetBatchSampler(shards, counts, edge_budget=1500, seed=1, rank=0, world_size=1)
    batches = list(single)
    assert sorted(i for b in batches for i in b) == list(range(40))
    assert all(counts[b].sum() <= 1500 or len(b) == 1 for b in batches)
    ranks = [list(EdgeBudgetBatchSampler(shards, counts, 1500, seed=1, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])  # equal counts: DDP collectives never wait on a missing batch
    assert {i for rank in ranks for b in rank for i in b} == set(range(40))
    shard_sets = [{int(shards[i]) for b in rank for i in b} for rank in ranks]
    assert not shard_sets[0] & shard_sets[1]  # each shard is read by one rank only
    single.set_epoch(1)
    assert list(single) != batches  # reshuffled every epoch


def test_fewer_shards_than_ranks_splits_structures():
    counts = np.full(9, 300)
    ranks = [list(EdgeBudgetBatchSampler(np.zeros(9, int), counts, 600, seed=0, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    assert {i for rank in ranks for b in rank for i in b} == set(range(9))


def test_workers_open_their_own_handles(datamodule):
    datamodule.hparams.num_workers = 2
    try:
        labels = [label for batch in datamodule.val_dataloader() for label in batch.labels]
    finally:
        datamodule.hparams.num_workers = 0
    assert sorted(labels) == sorted(datamodule.dataset.split_labels("val"))


def test_spinless_structure_in_spinful_batch_is_spin_diagonal(embedded, spinless_record):
    layout = OrbitalLayout(embedded.basis)
    batch = collate_graphs([record_to_sample(spinless_record, spinful=True)], layout, spinful=True)
    p = layout.num_orbitals
    torch.testing.assert_close(batch.hamiltonian[:, :p, :p], batch.hamiltonian[:, p:, p:])
    assert torch.all(batch.hamiltonian[:, :p, p:] == 0)


def test_populations_are_batched_only_for_a_network_that_reads_them(datamodule):
    """Off by default (NaN, no band fill); on, each atom's orbitals hold the structure's own
    populations at their layout positions, zero on padded ones, and every structure its electron count."""
    from nextham.kspace.populations import mulliken_populations

    batch = next(iter(datamodule.loader("val")))
    assert torch.isnan(batch.node_populations[batch.node_orbital_mask]).all()
    datamodule.set_populations(True)
    try:
        batch = next(iter(datamodule.loader("val")))
    finally:
        datamodule.set_populations(False)
    assert torch.all(batch.node_populations[~batch.node_orbital_mask] == 0)
    atoms = 0
    for label in batch.labels:
        record = datamodule.dataset.read(label)
        rows = batch.node_populations[atoms:atoms + record.num_atoms][batch.node_orbital_mask[atoms:atoms + record.num_atoms]]
        np.testing.assert_allclose(rows.numpy(), mulliken_populations(record), atol=1e-6)
        assert rows.sum().item() == pytest.approx(record.num_electrons, abs=1e-5)
        atoms += record.num_atoms


def test_populations_come_on_the_k_mesh_the_network_was_trained_with(datamodule):
    """A network's population_mesh_length_angstrom travels with it: serving a module sets the data
    module's band fills to that mesh (the shipped model's 10 Å; a retrained one may use a longer mesh)."""
    from nextham.kspace.populations import mulliken_populations
    from nextham.nn.ensemble import DistanceRangeMember, NextHAMEnsemble

    network = {"num_layers": 1, "population_input": True, "population_mesh_length_angstrom": 30.0}
    ensemble = NextHAMEnsemble([DistanceRangeMember(name, bounds, datamodule.layout.slot_ls, network=network)
                                for name, bounds in (("near", (0.0, 3.0)), ("far", (3.0, 6.0)))])
    assert ensemble.reads_populations and ensemble.population_mesh_length_angstrom == 30.0
    datamodule.set_populations(True, ensemble.population_mesh_length_angstrom)
    try:
        batch = next(iter(datamodule.loader("val")))
    finally:
        datamodule.set_populations(False)
    label = batch.labels[0]
    record = datamodule.dataset.read(label)
    rows = batch.node_populations[:record.num_atoms][batch.node_orbital_mask[:record.num_atoms]]
    np.testing.assert_allclose(rows.numpy(), mulliken_populations(record, length_angstrom=30.0), atol=1e-6)
    assert np.abs(rows.numpy() - mulliken_populations(record)).max() > 1e-5  # not the 10 Å fill


def test_data_without_an_electron_count_get_the_neutral_cells_from_the_valences(embedded, tmp_path):
    """Older shards and imported folders may lack num_electrons: a model reading H(0)'s populations
    derives it from the pseudopotential valences in the basis (the neutral cell), and says so."""
    import warnings

    from nextham.data.datamodule import ShardStructureDataset
    from nextham.io.shards import DatasetWriter, ShardedDataset

    originals = [record for record in embedded if not record.spinful][:2]
    writer = DatasetWriter(tmp_path / "old", embedded.basis)
    writer.append_shard([record.replace(num_electrons=None) for record in originals])
    old = ShardedDataset(tmp_path / "old")
    assert not np.isfinite(old.read(originals[0].label).num_electrons)
    samples = ShardStructureDataset(old, [r.label for r in originals], spinful=False, max_edge_length=6.0,
                                    with_populations=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index, original in enumerate(originals):
            samples[index]
            # the count the engine stored is the neutral cell's, and the populations add up to it
            assert samples.populations[index].sum() == pytest.approx(original.num_electrons, abs=1e-6)
    assert any("without num_electrons get the neutral cell's count" in str(w.message) for w in caught)
