"""The LightningModule users train: the selected distance-range members, jointly, on the joint loss.

All four members (or the ones named in ``members_to_train``) are trained together with one summed
loss on the assembled prediction Ĥ = H(0) + Σ ΔĤ_member — edges of ranges no member covers keep
H(0). Validation logs the Gauge MAE beside the H(0) baseline and returns Ĥ for the k-space callback;
test fills a full :class:`~nextham.metrics.GaugeMAE` report.
"""
from __future__ import annotations

import lightning as L
import torch

from ..evaluate.domain import CHECKPOINT_KEY as DOMAIN_CHECKPOINT_KEY
from ..losses import CompositeLoss
from ..metrics import GaugeMAE
from ..nn.ensemble import NextHAMEnsemble
from .optimizer import build_optimizer, optimizer_options


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the message names the step and the structures of the batch."""


class NextHAMModule(L.LightningModule):
    def __init__(self, slot_ls, spinful: bool, model: dict, loss: dict, optimizer: dict | None = None,
                 members_to_train="all", seed: int = 0, dataset: dict | None = None):
        """``dataset``: what predicting a new structure needs of the training data, kept in the
        checkpoint (:func:`~nextham.train.builders.dataset_card`): basis, engine settings, graph cutoff,
        dtype."""
        super().__init__()
        self.save_hyperparameters()
        members = model["members"]
        if members_to_train != "all":
            wanted = [members_to_train] if isinstance(members_to_train, str) else list(members_to_train)
            unknown = sorted(set(wanted) - {m["name"] for m in members})
            if unknown:
                raise ValueError(f"members_to_train names {unknown}; the model has {[m['name'] for m in members]}")
            members = [m for m in members if m["name"] in wanted]
        self.ensemble = NextHAMEnsemble.from_config({**model, "members": members}, slot_ls, spinful)
        self.loss = CompositeLoss.from_config(loss)
        self.optimizer_options = optimizer_options(optimizer)
        names = [m.name for m in self.ensemble.members]
        self.val_gauge = GaugeMAE(member_names=names)
        self.test_gauge = GaugeMAE(member_names=names)
        self.stored_domain = None  # the domain statistics `nextham domain` wrote into the checkpoint

    def on_load_checkpoint(self, checkpoint):
        self.stored_domain = checkpoint.get(DOMAIN_CHECKPOINT_KEY)

    @property
    def member_names(self):
        return [m.name for m in self.ensemble.members]

    def forward(self, batch) -> dict:
        return self.ensemble(batch)

    def _require_finite_inputs(self, batch, batch_index):
        for name in ("hamiltonian_0", "hamiltonian", "overlap"):
            values = getattr(batch, name)
            if not torch.isfinite(values).all():
                raise NonFiniteLossError(
                    f"{name} holds NaN/inf at epoch {self.current_epoch}, step {self.global_step}, batch {batch_index} "
                    f"(structures {batch.labels}); inspect the dataset with `nextham data inspect`")

    def training_step(self, batch, batch_index):
        self._require_finite_inputs(batch, batch_index)
        prediction = self(batch)
        # k-points drawn from a generator tied to the step: a resumed run samples exactly the same
        generator = torch.Generator().manual_seed(1_000_003 * int(self.hparams.get("seed", 0) or 0) + self.global_step)
        total, parts, _ = self.loss(prediction, batch, generator=generator)
        if not torch.isfinite(total):
            raise NonFiniteLossError(
                f"loss is {float(total)} at epoch {self.current_epoch}, step {self.global_step}, batch {batch_index} "
                f"(structures {batch.labels}); terms: { {k: float(v) for k, v in parts.items()} }. "
                f"Check these structures for NaN/inf blocks, or lower the learning rate.")
        size = batch.num_structures
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=size)
        return total

    def validation_step(self, batch, batch_index):
        prediction = self(batch)
        total, _, _ = self.loss(prediction, batch, generator=torch.Generator().manual_seed(batch_index))
        self.log("val/loss", total, batch_size=batch.num_structures, sync_dist=True)
        self.val_gauge.update(prediction["hamiltonian"].detach(), batch, prediction["member_of_edge"])
        return {"hamiltonian": prediction["hamiltonian"].detach()}

    def on_validation_epoch_end(self):
        report = self.val_gauge.compute()
        self.log("val/gauge_mae_mev", report["gauge_mae_mev"], prog_bar=True)
        self.log("val/baseline_gauge_mae_mev", report["baseline_gauge_mae_mev"])
        self.val_gauge.reset()

    def test_step(self, batch, batch_index):
        prediction = self(batch)
        self.test_gauge.update(prediction["hamiltonian"].detach(), batch, prediction["member_of_edge"])
        return {"hamiltonian": prediction["hamiltonian"].detach()}

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_options,
                               self.trainer.max_epochs if self.trainer is not None else 1)
