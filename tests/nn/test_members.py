"""Distance-range members and the ensemble that routes edges to them."""
import lightning as L
import numpy as np
import pytest
import torch

from nextham.configs import CONFIG_ROOT, load_config
from nextham.data.datamodule import HamiltonianDataModule
from nextham.nn.ensemble import DistanceRangeMember, NextHAMEnsemble
from nextham.train.module import NextHAMModule

TINY = {"num_layers": 1, "num_heads": 1, "hidden_multiplicities": {0: 4, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2},
        "num_radial_basis": 8, "radial_hidden": 8, "tracegrad": {"num_invariants": 8, "hidden": 8}}


@pytest.fixture(scope="module")
def data():
    return HamiltonianDataModule(edge_budget=600, max_edge_length_angstrom=8.0, dtype="float32")


@pytest.fixture(scope="module")
def ensemble(data):
    config = load_config(CONFIG_ROOT / "model" / "nextham.yaml")
    config["network"] = TINY
    torch.manual_seed(0)
    return NextHAMEnsemble.from_config(config, data.layout.slot_ls, data.spinful)


def test_routing_covers_every_edge_once(data, ensemble):
    batch = next(iter(data.val_dataloader()))
    owner = ensemble.member_of_edge(batch)
    lengths = batch.edge_lengths
    onsite = lengths < 1e-9
    assert torch.all(owner[onsite] == 0)  # the first member owns on-site blocks
    assert torch.all(owner[lengths >= 6.0] == -1) and torch.all(owner[lengths < 6.0] >= 0)
    report = ensemble.routing_report(batch)
    assert sum(report.values()) == batch.edge_index.shape[1] and report["kept_h0"] > 0
    with torch.no_grad():
        output = ensemble(batch)
    kept = owner == -1
    assert torch.all(output["hamiltonian"][kept] == batch.hamiltonian_0[kept])  # beyond the last range: H(0)
    for index, member in enumerate(ensemble.members):
        with torch.no_grad():
            alone = member(batch)["delta_hamiltonian"]
        assert torch.all(alone[owner != index] == 0)  # each member answers only for its own edges


def test_overlapping_ranges_are_rejected_and_uncovered_edges_keep_h0(data):
    make = lambda name, r: DistanceRangeMember(name, r, data.layout.slot_ls, data.spinful, network=TINY)
    with pytest.raises(ValueError, match="overlap"):
        NextHAMEnsemble([make("a", [0.0, 2.0]), make("b", [1.5, 3.0])])
    alone = NextHAMEnsemble([make("a", [2.0, 4.0])])
    batch = next(iter(data.val_dataloader()))
    owner = alone.member_of_edge(batch)
    assert torch.all(owner[batch.edge_lengths < 1e-9] == -1)  # on-site blocks: no member, H(0) kept


def _member_mse(module, batch):
    """Mean |ΔĤ − ΔH|² over the member's own edges and existing orbitals."""
    (member,) = module.ensemble.members
    with torch.no_grad():
        predicted = module(batch)["delta_hamiltonian"]
    mask = member.edge_mask(batch)[:, None, None] & batch.orbital_mask
    return (predicted - batch.delta_hamiltonian.to(predicted.dtype))[mask].abs().pow(2).mean().item()


def test_a_member_trains_with_lightning(data, tmp_path):
    torch.manual_seed(0)
    model = {**load_config(CONFIG_ROOT / "model" / "nextham.yaml"), "network": TINY}
    module = NextHAMModule(data.layout.slot_ls, data.spinful, model=model, loss={"terms": {"rspace_mse": {}}},
                           optimizer={"lr": 1e-3}, members_to_train="range_2_4")
    batch = next(iter(data.train_dataloader()))
    before = _member_mse(module, batch)
    trainer = L.Trainer(max_steps=20, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                        limit_val_batches=0, default_root_dir=tmp_path)
    same_batch = torch.utils.data.DataLoader([batch] * 20, batch_size=None, collate_fn=lambda b: b)
    trainer.fit(module, train_dataloaders=same_batch)  # fits one batch: the loss must go down
    after = _member_mse(module, batch)
    assert np.isfinite(after) and after < before


def test_evaluation_batches_hold_every_pair_and_pairs_beyond_the_graph_keep_h0(data, ensemble):
    """Ĥ covers every stored pair: the members answer inside the graph, H(0) elsewhere, and the
    answer inside the graph is the one the graph-only (training) batch gets."""
    label = data.dataset.split_labels("val")[0]
    record = data.dataset.read(label)
    from nextham.data.batch import collate_graphs, record_to_sample

    full = collate_graphs([record_to_sample(record, data.spinful)], data.layout, data.spinful, data.dtype,
                          graph_cutoff=6.0)
    graph_only = collate_graphs([record_to_sample(record, data.spinful, 6.0)], data.layout, data.spinful, data.dtype,
                                graph_cutoff=6.0)
    assert full.hamiltonian.shape[0] == record.num_edges > graph_only.hamiltonian.shape[0]
    with torch.no_grad():
        everything, inside = ensemble(full), ensemble(graph_only)
    beyond = full.edge_lengths > 6.0 + 1e-9
    assert bool(beyond.any())
    assert torch.equal(everything["hamiltonian"][beyond], full.hamiltonian_0[beyond])
    assert (everything["member_of_edge"][beyond] == -1).all()
    torch.testing.assert_close(everything["hamiltonian"][~beyond], inside["hamiltonian"], rtol=1e-5, atol=1e-6)
    assert len(data.val_dataloader().dataset[0]["edge_index"]) == data.dataset.read(
        data.dataset.split_labels("val")[0]).num_edges
    assert len(data.train_dataloader().dataset[0]["edge_index"]) < data.dataset.read(
        data.dataset.split_labels("train")[0]).num_edges


def test_the_ensemble_in_pieces_gives_the_whole_graphs_answer(embedded, float64):
    """Two transformer blocks (the halo matters), a 16-atom supercell, pieces of 3 atoms."""
    from nextham.data.batch import collate_graphs, record_to_sample
    from nextham.data.layout import OrbitalLayout

    layout = OrbitalLayout(embedded.basis)
    config = load_config(CONFIG_ROOT / "model" / "nextham.yaml")
    config["network"] = {**TINY, "num_layers": 2, "output_scale": 1.0}
    torch.manual_seed(0)
    ensemble = NextHAMEnsemble.from_config(config, layout.slot_ls, False).double().eval()
    record = embedded.read("SiC-zincblende-002").astype(np.float64).supercell((2, 2, 2))
    batch = collate_graphs([record_to_sample(record, False)], layout, False, torch.float64, graph_cutoff=4.0)
    with torch.no_grad():
        whole, pieces = ensemble(batch), ensemble(batch, chunk_atoms=3)
    assert ensemble.receptive_hops == 2 and float(whole["delta_hamiltonian"].abs().max()) > 1e-3
    torch.testing.assert_close(pieces["hamiltonian"], whole["hamiltonian"], atol=1e-10, rtol=0)
    assert torch.equal(pieces["member_of_edge"], whole["member_of_edge"])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_a_member_decodes_its_range_alone_with_the_whole_graphs_answer(embedded, float64, num_layers):
    """The last block updates no node, so a member runs it and the decoder on its own edges only: ΔĤ
    and the traces on the range equal those of the network run on every edge, zero elsewhere."""
    from nextham.data.batch import collate_graphs, record_to_sample
    from nextham.data.layout import OrbitalLayout

    layout = OrbitalLayout(embedded.basis)
    torch.manual_seed(0)
    member = DistanceRangeMember("range_2_4", [2.0, 4.0], layout.slot_ls, False,
                                 network={**TINY, "num_layers": num_layers, "output_scale": 1.0,
                                          "overlap_shift": True}).double().eval()
    record = embedded.read("SiC-zincblende-002").astype(np.float64)
    batch = collate_graphs([record_to_sample(record, False)], layout, False, torch.float64, graph_cutoff=6.0)
    mask = member.edge_mask(batch)
    with torch.no_grad():
        alone = member(batch)
        whole = member.network(batch)
    assert 0 < int(mask.sum()) < mask.numel() and float(alone["delta_hamiltonian"][mask].abs().max()) > 1e-4
    torch.testing.assert_close(alone["delta_hamiltonian"][mask], whole["delta_hamiltonian"][mask], atol=1e-12, rtol=0)
    assert torch.all(alone["delta_hamiltonian"][~mask] == 0)
    torch.testing.assert_close(alone["trace"][mask], whole["trace"][mask], atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="reverse"):
        member.network(batch, edge_subset=torch.arange(mask.numel()) == int(mask.nonzero()[0]))
