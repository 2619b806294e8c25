"""Validation callback: k-space eigen-decompositions on a grid and a path, band and ghost-state
metrics logged every validation epoch, and a band-structure PNG (DFT vs predicted)."""
from __future__ import annotations

from pathlib import Path

import lightning as L

from ..evaluate.plots import band_comparison_figure, close
from ..kspace import monkhorst_pack
from ..metrics import BandMetrics


class KSpaceValidationCallback(L.Callback):
    """Needs ``validation_step`` to return a dict holding the predicted ``hamiltonian`` Ĥ blocks."""

    def __init__(self, kmesh=(3, 3, 3), window_ev: float = 2.0, p_window_ev: float = 10.0,
                 ghost_tolerance_ev: float = 0.1, path_density: int = 30, plot: bool = True,
                 align_gauge: bool = True):
        super().__init__()
        self.kmesh = tuple(kmesh)
        self.path_density, self.plot, self.align_gauge = path_density, plot, align_gauge
        self.metrics = BandMetrics(window_ev=window_ev, p_window_ev=p_window_ev, ghost_tolerance_ev=ghost_tolerance_ev,
                                   align_gauge=align_gauge)
        self._figure_source = None
        self._plot_folder = None

    def setup(self, trainer, pl_module, stage):
        # trainer.log_dir is a collective under DDP (a broadcast): every rank must ask, not rank 0 alone
        self._plot_folder = Path(trainer.log_dir or trainer.default_root_dir) / "bands"

    def on_validation_epoch_start(self, trainer, pl_module):
        self.metrics = self.metrics.to(pl_module.device)
        self.metrics.reset()
        self._figure_source = None

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if not isinstance(outputs, dict) or "hamiltonian" not in outputs:
            return
        predicted = outputs["hamiltonian"].detach()
        self.metrics.update(predicted, batch, monkhorst_pack(self.kmesh))
        if self.plot and self._figure_source is None and trainer.is_global_zero:
            self._figure_source = (predicted, batch)

    def on_validation_epoch_end(self, trainer, pl_module):
        values = self.metrics.compute()  # reduced across DDP ranks
        if values["kpoints"] == 0:
            return
        for name in ("band_mae_mev", "ghost_states", "pq_norm_mev"):
            pl_module.log(f"val/{name}", float(values[name]), rank_zero_only=True)
        if self._figure_source is not None and not trainer.sanity_checking:
            self.write_band_plot(trainer, *self._figure_source)

    def write_band_plot(self, trainer, predicted, batch):
        figure, label = band_comparison_figure(predicted, batch, 0, align_gauge=self.align_gauge, density=self.path_density,
                                  title=f"{batch.labels[0]} — epoch {trainer.current_epoch}")
        folder = self._plot_folder or Path(trainer.default_root_dir) / "bands"
        folder.mkdir(parents=True, exist_ok=True)
        figure.savefig(folder / f"epoch_{trainer.current_epoch:04d}_{label}.png")
        experiment = getattr(trainer.logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_figure"):
            experiment.add_figure("val/bands", figure, global_step=trainer.global_step)
        close(figure)
