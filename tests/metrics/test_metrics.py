"""Gauge MAE, band metrics and ghost states; the same numbers from 1 and from 2 DDP processes."""
import json
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from nextham.data.batch import collate_graphs, record_to_sample
from tests.reference import gauge_mae, spinor_overlap_blocks
from nextham.data.layout import OrbitalLayout
from nextham.record import HamiltonianRecord
from nextham.kspace import monkhorst_pack
from nextham.metrics import BandMetrics, GaugeMAE
from tests.losses.conftest import planted_ghost


def planted_error(batch):
    """A deterministic error of a few meV that keeps hermiticity (elementwise of H itself)."""
    return batch.hamiltonian + 0.004 * torch.sin(37.0 * batch.hamiltonian.real) * batch.orbital_mask


def batches(embedded, spinful, count, dtype=torch.float64):
    layout = OrbitalLayout(embedded.basis)
    records = [r.astype(np.float64) for r in embedded if r.spinful == spinful][:count]
    return [collate_graphs([record_to_sample(r, spinful)], layout, spinful, dtype) for r in records], records


@pytest.mark.parametrize("spinful", [False, True])
def test_gauge_mae_baseline_matches_an_independent_computation(embedded, spinful):
    metric = GaugeMAE()
    group, records = batches(embedded, spinful, 3)
    for batch in group:
        metric.update(batch.hamiltonian, batch)
    report = metric.compute()
    expected = np.mean([gauge_mae(r.hamiltonian_0, r.hamiltonian, HamiltonianRecord.flatten_blocks(spinor_overlap_blocks(r)))
                        for r in records]) * 1000.0
    assert report["baseline_gauge_mae_mev"] == pytest.approx(expected, rel=1e-9)
    assert report["gauge_mae_mev"] == pytest.approx(0.0, abs=1e-9)
    if spinful:  # H(0) already holds the spin–orbit part: spin-flip blocks carry no baseline error
        assert report["spin_blocks"]["up_down"]["baseline_real"] < 1e-3 < report["spin_blocks"]["up_up"]["baseline_real"]


def test_groups_average_their_own_structures(embedded):
    """Each structure counts in its group only; every group's baseline is the plain mean of its
    structures' Gauge MAE, recomputed independently."""
    group, records = batches(embedded, False, 4)
    names = ("in_distribution", "new_combination", "held_out_element")
    assignment = {records[0].label: "new_combination", records[1].label: "new_combination"}
    seen = []

    def group_of(label, symbols):
        seen.append(symbols)
        return assignment.get(label, "in_distribution")

    metric = GaugeMAE(group_of=group_of, group_names=names)
    for batch in group:
        metric.update(batch.hamiltonian, batch)
    report = metric.compute()
    per_structure = {r.label: gauge_mae(r.hamiltonian_0, r.hamiltonian, r.overlap) * 1000.0 for r in records}
    for name in ("in_distribution", "new_combination"):
        labels = [r.label for r in records if assignment.get(r.label, "in_distribution") == name]
        assert report["groups"][name]["structures"] == len(labels) == 2
        assert report["groups"][name]["baseline"] == pytest.approx(np.mean([per_structure[l] for l in labels]), rel=1e-9)
        assert report["groups"][name]["model"] == pytest.approx(0.0, abs=1e-9)
    assert "held_out_element" not in report["groups"]  # no structure, no row
    assert seen[0] == {"Si"} or all(isinstance(s, set) and s for s in seen)


def test_a_constant_shift_scores_zero_and_splits_add_up(embedded):
    group, _ = batches(embedded, False, 2)
    metric = GaugeMAE(member_names=("near", "far"))
    for batch in group:
        owner = (batch.edge_lengths > 4.0).long()
        metric.update(batch.hamiltonian + 0.3 * batch.overlap, batch, owner)
    report = metric.compute()
    assert report["gauge_mae_mev"] == pytest.approx(0.0, abs=1e-9)
    assert set(report["members"]) == {"near", "far", "kept_h0"}
    assert set(report["elements"]) >= {"Si"} and all(v["model"] == pytest.approx(0.0, abs=1e-9)
                                                      for v in report["elements"].values())
    assert report["members"]["near"]["entries"] + report["members"]["far"]["entries"] > 0


def test_ghost_states_are_counted(embedded):
    (batch,), _ = batches(embedded, False, 1)
    kpoints = monkhorst_pack((2, 2, 2))
    clean, ghost = BandMetrics(p_window_ev=3.0), BandMetrics(p_window_ev=3.0)
    clean.update(batch.hamiltonian, batch, kpoints)
    ghost.update(batch.hamiltonian + planted_ghost(batch), batch, kpoints)
    clean, ghost = clean.compute(), ghost.compute()
    assert clean["ghost_states"] == 0 and clean["band_mae_mev"] < 1e-6 and clean["pq_norm_mev"] < 1e-6
    assert ghost["ghost_states"] >= kpoints.shape[0] and ghost["pq_norm_mev"] > 100.0


def test_a_rigid_energy_offset_is_neither_a_band_error_nor_a_ghost(embedded):
    (batch,), _ = batches(embedded, False, 1)
    kpoints = monkhorst_pack((2, 2, 2))
    shifted_hamiltonian = batch.hamiltonian + 0.5 * batch.overlap  # every band 0.5 eV higher
    aligned, raw = BandMetrics(p_window_ev=3.0), BandMetrics(p_window_ev=3.0, align_gauge=False)
    aligned.update(shifted_hamiltonian, batch, kpoints)
    raw.update(shifted_hamiltonian, batch, kpoints)
    aligned, raw = aligned.compute(), raw.compute()
    assert aligned["band_mae_mev"] < 1e-6 and aligned["ghost_states"] == 0
    assert aligned["mean_abs_gauge_shift_mev"] == pytest.approx(500.0, rel=1e-9)
    assert raw["band_mae_mev"] == pytest.approx(500.0, rel=1e-6) and raw["ghost_states"] > 0
    assert raw["pq_norm_mev"] < 1e-6 and aligned["pq_norm_mev"] < 1e-6  # C_P† S C_Q = 0: no coupling either way


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric_values(group):
    gauge, bands = GaugeMAE(), BandMetrics(p_window_ev=3.0)
    for batch in group:
        predicted = planted_error(batch)
        gauge.update(predicted, batch)
        bands.update(predicted, batch, monkhorst_pack((2, 1, 1)))
    return {**gauge.compute(), **{f"band_{k}": v for k, v in bands.compute().items()}}


def _ddp_worker(rank, world_size, port, output):
    import torch.distributed as dist

    from nextham.assets import embedded_dataset_path
    from nextham.io import ShardedDataset

    torch.set_default_dtype(torch.float64)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    group, _ = batches(ShardedDataset(embedded_dataset_path()), False, 4)
    values = _metric_values(group[rank::world_size])  # each process sees half the structures
    if rank == 0:
        with open(output, "w") as f:
            json.dump(values, f)
    dist.destroy_process_group()


@pytest.mark.slow
def test_metrics_agree_between_one_and_two_ddp_processes(embedded, tmp_path):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        single = _metric_values(batches(embedded, False, 4)[0])
    finally:
        torch.set_default_dtype(previous)
    output = tmp_path / "ddp.json"
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(output)), nprocs=2, start_method="spawn")
    distributed = json.loads(output.read_text())
    assert single["structures"] == distributed["structures"] == 4
    for key in ("gauge_mae_mev", "baseline_gauge_mae_mev", "band_band_mae_mev", "band_ghost_states", "band_pq_norm_mev"):
        assert distributed[key] == pytest.approx(single[key], rel=1e-9), key
    assert single["gauge_mae_mev"] > 0.1


def test_a_spinless_crystal_is_scored_spinless_in_a_dataset_with_spin_orbit_ones(embedded):
    """AlAs enters a spinful batch as H ⊗ I₂; its zero spin-flip blocks must not halve its Gauge MAE."""
    layout = OrbitalLayout(embedded.basis)
    record = embedded.read("AlAs-zincblende-001").astype(np.float64)
    expected = gauge_mae(record.hamiltonian_0, record.hamiltonian, record.overlap) * 1000.0  # independent, numpy
    reports = []
    for spinful in (False, True):
        metric = GaugeMAE()
        batch = collate_graphs([record_to_sample(record, spinful)], layout, spinful)
        metric.update(batch.hamiltonian, batch)
        reports.append(metric.compute())
    for report in reports:
        assert report["baseline_gauge_mae_mev"] == pytest.approx(expected, rel=1e-9)
        assert report["pairs"] == record.num_edges  # the headline is over all stored pairs
        assert set(report["spin_blocks"]) == {"spinless"}
    assert expected == pytest.approx(1.094, abs=1e-3)
    with_soc = GaugeMAE()
    csi = embedded.read("CsI-cesium_chloride-000").astype(np.float64)
    soc_batch = collate_graphs([record_to_sample(csi, True)], layout, True)
    with_soc.update(soc_batch.hamiltonian, soc_batch)
    assert set(with_soc.compute()["spin_blocks"]) == {"up_up", "up_down", "down_up", "down_down"}
