"""The k-space validation callback during a real (tiny) fit: metrics logged, band PNG written."""
import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from nextham.train.callbacks import KSpaceValidationCallback
from nextham.data.datamodule import HamiltonianDataModule
from nextham.configs import CONFIG_ROOT, load_config
from nextham.train.module import NextHAMModule
from tests.nn.test_members import TINY


def test_callback_logs_band_metrics_and_writes_a_band_plot(tmp_path):
    data = HamiltonianDataModule(edge_budget=600, dtype="float32")
    torch.manual_seed(0)
    model = {"members": [{"name": "range_0_1", "distance_range": [0.0, 1.0]}], "network": TINY}
    module = NextHAMModule(data.layout.slot_ls, data.spinful, model=model,
                           loss=load_config(CONFIG_ROOT / "loss" / "nextham.yaml"))
    callback = KSpaceValidationCallback(kmesh=(2, 1, 1), p_window_ev=3.0, path_density=10)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, accelerator="cpu",
                        logger=TensorBoardLogger(tmp_path, name="run"), enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                        num_sanity_val_steps=0, callbacks=[callback])
    trainer.fit(module, datamodule=data)
    metrics = trainer.callback_metrics
    assert {"val/band_mae_mev", "val/ghost_states", "val/pq_norm_mev"} <= set(metrics)
    assert float(metrics["val/band_mae_mev"]) >= 0.0
    pictures = list((tmp_path / "run").rglob("bands/*.png"))
    assert pictures and pictures[0].stat().st_size > 5000
    assert list((tmp_path / "run").rglob("events.out.tfevents.*"))
