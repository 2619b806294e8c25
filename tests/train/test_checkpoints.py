"""A checkpoint written before the package was reorganised loads and predicts what it predicted then."""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nextham.configs import CONFIG_ROOT, load_config
from nextham.evaluate.predictions import predicted_records
from nextham.train import build_datamodule, load_module

FIXTURE = Path(__file__).parent.parent / "fixtures" / "embedded_run"


@pytest.mark.parametrize("exported", [False, True])
def test_an_old_checkpoint_of_the_embedded_run_predicts_as_it_did(tmp_path, exported):
    """The fixture, and its inference-only export (no optimizer state), predict as it did."""
    from nextham.train.checkpoints import export_checkpoint

    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    if exported:
        import torch

        slim = export_checkpoint(checkpoint, tmp_path / "slim" / "model.ckpt")
        assert "optimizer_states" in torch.load(checkpoint, weights_only=False)
        assert "optimizer_states" not in torch.load(slim, weights_only=False)
        assert slim.stat().st_size < checkpoint.stat().st_size
        checkpoint = slim
    config = load_config(CONFIG_ROOT / "fit.yaml", [f"output={tmp_path}"])
    data = build_datamodule(config)
    module = load_module([checkpoint])
    expected = np.load(FIXTURE / "prediction_val.npz")
    corrections = {record.label: (record.hamiltonian - original.hamiltonian_0, original.hamiltonian_0)
                   for record, original in predicted_records(module, data, "val")}
    assert sorted(corrections) == sorted(expected.files)
    for label, (correction, hamiltonian_0) in corrections.items():
        expected_correction = expected[label] - hamiltonian_0
        assert np.abs(expected_correction).max() > 5e-3  # the members' ΔĤ, meV-sized: an untrained net differs
        np.testing.assert_allclose(correction, expected_correction, rtol=0, atol=1e-5, err_msg=label)


def test_a_spin_orbit_checkpoint_tests_spinless_data_and_a_spinless_one_refuses_spin_orbit_data(tmp_path, embedded):
    from nextham.cli.main import main
    from nextham.errors import DataError
    from nextham.data.datamodule import HamiltonianDataModule
    from nextham.io.shards import DatasetWriter
    from nextham.train.module import NextHAMModule

    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    spinless = [record for record in embedded if not record.spinful][:4]
    writer = DatasetWriter(tmp_path / "spinless", embedded.basis, split_fractions={"test": 1.0})
    writer.append_shard(spinless)
    # trained with CsI (spinful batches); the data here have no spin–orbit structure (spinless batches)
    assert main(["test", "--config", "fit", f"data.root={tmp_path / 'spinless'}", f"output={tmp_path / 'run'}",
                 "callbacks.kspace.kmesh=[1,1,1]", "--ckpt", str(checkpoint)]) == 0
    report = json.loads((tmp_path / "run" / "test" / "report.json").read_text())
    assert report["structures"] == 4 and set(report["spin_blocks"]) == {"spinless"}
    spinless_model = NextHAMModule(slot_ls=(0, 0, 1, 2), spinful=False, model=load_config("model/nextham.yaml"),
                                   loss=load_config("loss/nextham.yaml"))
    with pytest.raises(DataError, match="trained on spinless data and cannot predict spin–orbit"):
        HamiltonianDataModule().set_spinful(spinless_model.hparams.spinful, model="this checkpoint")


class _ScriptedValidation:
    """A LightningModule whose validation Gauge MAE follows a script, epoch by epoch (no data, no network)."""

    @staticmethod
    def make(script):
        import lightning as L
        from torch.utils.data import DataLoader, TensorDataset

        class Scripted(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(1))

            def training_step(self, batch, index):
                return (self.weight - 1.0).pow(2).sum()

            def validation_step(self, batch, index):
                self.log("val/gauge_mae_mev", float(script[self.current_epoch]))

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

            def train_dataloader(self):
                return DataLoader(TensorDataset(torch.zeros(2, 1)), batch_size=1)

            def val_dataloader(self):
                return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)

        return Scripted()


def _trainer(tmp_path, epochs):
    from nextham.configs import CONFIG_ROOT, load_config
    from nextham.train import build_trainer
    from nextham.train.callbacks import KSpaceValidationCallback

    config = load_config(CONFIG_ROOT / "fit.yaml", [f"output={tmp_path}", f"trainer.max_epochs={epochs}",
                                                    "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"])
    trainer = build_trainer(config)
    trainer.callbacks[:] = [c for c in trainer.callbacks if not isinstance(c, KSpaceValidationCallback)]  # needs Hamiltonians
    return trainer, config


def test_last_checkpoint_is_the_latest_state_and_best_the_best_epoch(tmp_path):
    """Validation gets worse in the last epoch: last.ckpt must still be that epoch (resuming repeats
    nothing), best.ckpt the epoch before it (what test and predict read)."""
    from nextham.train import best_checkpoint, last_checkpoint

    script = [3.0, 1.0, 2.0, 1.5, 0.5]
    trainer, config = _trainer(tmp_path, 3)
    trainer.fit(_ScriptedValidation.make(script))
    last = torch.load(last_checkpoint(config), map_location="cpu", weights_only=False)
    best = torch.load(best_checkpoint(config), map_location="cpu", weights_only=False)
    assert last_checkpoint(config).name == "last.ckpt" and best_checkpoint(config).name == "best.ckpt"
    assert (last["epoch"], last["global_step"]) == (2, 6) and best["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]

    # resumed: the fourth epoch (1.5) is worse than the best so far (1.0) and leaves best.ckpt alone; the
    # fifth (0.5) replaces it
    resumed, _ = _trainer(tmp_path, 4)
    module = _ScriptedValidation.make(script)
    resumed.fit(module, ckpt_path=str(last_checkpoint(config)))
    assert resumed.global_step == 8  # two steps more, no epoch repeated
    assert torch.load(best_checkpoint(config), map_location="cpu", weights_only=False)["epoch"] == 1
    again, _ = _trainer(tmp_path, 5)
    again.fit(_ScriptedValidation.make(script), ckpt_path=str(last_checkpoint(config)))
    assert torch.load(best_checkpoint(config), map_location="cpu", weights_only=False)["epoch"] == 4
    assert torch.load(last_checkpoint(config), map_location="cpu", weights_only=False)["epoch"] == 4


def test_a_run_folder_is_evaluated_from_its_best_checkpoint(tmp_path):
    from nextham.train import checkpoint_files

    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "last.ckpt").write_bytes(b"")
    assert checkpoint_files([tmp_path / "run"]) == [folder / "last.ckpt"]  # a run from before best.ckpt
    (folder / "best.ckpt").write_bytes(b"")
    assert checkpoint_files([tmp_path / "run"]) == [folder / "best.ckpt"]
