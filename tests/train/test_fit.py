"""End to end on the embedded data: fit, resume, test report (recomputed here), predict, bands, DDP."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nextham.cli.main import main
from nextham.configs import CONFIG_ROOT, load_config
from tests.reference import gauge_mae, spinor_overlap_blocks
from nextham.record import HamiltonianRecord
from nextham.io.shards import ShardedDataset
from nextham.train.module import NonFiniteLossError
from nextham.train import build_datamodule, build_module, fit

TINY = ["model.network.num_layers=1", "model.network.hidden_multiplicities={0: 4, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2}",
        "model.network.num_radial_basis=8", "model.network.radial_hidden=8",
        "model.network.tracegrad={enabled: true, num_invariants: 8, hidden: 8, scale: 0.2}",
        "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false", "callbacks.kspace.path_density=8"]


def config(tmp_path, *extra):
    return load_config(CONFIG_ROOT / "fit.yaml", [f"output={tmp_path / 'run'}", *TINY, *extra])


def arguments(tmp_path, *extra):
    return ["--config", str(CONFIG_ROOT / "fit.yaml"), f"output={tmp_path / 'run'}", *TINY, *extra]


@pytest.mark.slow
def test_fit_test_predict_bands_end_to_end(tmp_path, embedded, capsys):
    assert main(["fit", *arguments(tmp_path, "trainer.max_epochs=2")]) == 0
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert list(run.rglob("events.out.tfevents.*")) and list(run.rglob("bands/*.png"))

    assert main(["test", *arguments(tmp_path)]) == 0
    report = json.loads((run / "test" / "report.json").read_text())
    assert "Gauge MAE" in (run / "test" / "report.md").read_text()
    assert (run / "test" / "parity.png").exists() and list((run / "test").glob("bands_*.png"))
    # recompute the headline numbers from the saved prediction, independently of the metric code:
    # every stored pair of each structure, each in its own representation (spinless stays spinless)
    predictions = ShardedDataset(run / "test" / "predictions")
    model, baseline = [], []
    for predicted in predictions:
        truth = embedded.read(predicted.label)
        assert predicted.spinful == truth.spinful
        np.testing.assert_array_equal(predicted.edge_index, truth.edge_index)
        np.testing.assert_array_equal(predicted.cell_shifts, truth.cell_shifts)
        overlap = HamiltonianRecord.flatten_blocks(spinor_overlap_blocks(truth)).astype(np.float64)
        dtype = np.complex128 if truth.spinful else np.float64
        model.append(gauge_mae(predicted.hamiltonian.astype(dtype), truth.hamiltonian.astype(dtype), overlap))
        baseline.append(gauge_mae(truth.hamiltonian_0.astype(dtype), truth.hamiltonian.astype(dtype), overlap))
    assert report["structures"] == len(predictions) == len(embedded.split_labels("test"))
    assert report["pairs"] == sum(embedded.read(label).num_edges for label in embedded.split_labels("test"))
    assert report["gauge_mae_mev"] == pytest.approx(np.mean(model) * 1000.0, rel=1e-4)
    assert report["baseline_gauge_mae_mev"] == pytest.approx(np.mean(baseline) * 1000.0, rel=1e-4)

    label = embedded.split_labels("test")[0]
    assert main(["predict", *arguments(tmp_path), "--out", str(tmp_path / "pred")]) == 0
    assert (tmp_path / "pred" / "deeph" / "dft" / label / "hamiltonian_pred.h5").exists()
    assert main(["bands", *arguments(tmp_path), "--structure", label, "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").stat().st_size > 5000


@pytest.mark.slow
def test_an_interrupted_run_resumes_with_no_loss(tmp_path):
    straight = config(tmp_path / "a", "trainer.max_epochs=2")
    trainer, module, _ = fit(straight)
    split = config(tmp_path / "b", "trainer.max_epochs=1")
    fit(split)
    resumed_config = config(tmp_path / "b", "trainer.max_epochs=2")
    trainer_resumed, resumed, checkpoint = fit(resumed_config)
    assert checkpoint is not None and trainer_resumed.current_epoch == trainer.current_epoch == 2
    # identical up to BLAS round-off (MKL may change its thread count under load); a lost epoch, a reset
    # optimizer or a different data order would differ by orders of magnitude more
    for (name, a), (_, b) in zip(module.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=name)


def test_non_finite_loss_names_the_batch(tmp_path):
    settings = config(tmp_path)
    data = build_datamodule(settings)
    module = build_module(settings, data)
    batch = next(iter(data.train_dataloader()))
    batch.hamiltonian[0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match=batch.labels[0]):
        module.training_step(batch, 0)


@pytest.mark.slow
def test_one_member_by_name_and_two_ddp_processes(tmp_path):
    """``trainer.strategy=ddp`` exactly as a user types it: the CLI in a subprocess (Lightning's launcher
    re-runs the command line for rank 1, which pytest itself cannot host), band plots on, so a
    collective called by one rank only would hang here and hit the timeout."""
    command = [str(Path(sys.executable).parent / "nextham"), "fit", *arguments(tmp_path),
               "members_to_train=range_2_4", "trainer.max_epochs=1", "trainer.strategy=ddp", "trainer.devices=2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # rank 1 too: it is in the same session
        stdout, stderr = process.communicate()
        pytest.fail(f"DDP fit hung:\n{stderr[-3000:]}")
    assert process.returncode == 0, stderr[-3000:]
    assert stdout.count("finished 1 epochs") == 1  # rank 0 reports, rank 1 stays quiet
    run = tmp_path / "run"
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["hyper_parameters"]["members_to_train"] == "range_2_4"
    assert {key.split(".")[2] for key in checkpoint["state_dict"] if key.startswith("ensemble.members.")} == {"0"}
    assert list(run.rglob("bands/*.png"))
