"""What ``nextham fit | test | predict | bands`` do, as importable functions."""
from __future__ import annotations

from pathlib import Path

import lightning as L

from .callbacks import KSpaceValidationCallback
from .graph.datamodule import HamiltonianDataModule
from .training import NextHAMModule

CHECKPOINT_DIR = "checkpoints"


def build_datamodule(config) -> HamiltonianDataModule:
    return HamiltonianDataModule(**config["data"])


def build_module(config, data: HamiltonianDataModule) -> NextHAMModule:
    return NextHAMModule(data.layout.slot_ls, data.spinful, model=config["model"], loss=config["loss"],
                         optimizer=config.get("optimizer"), members_to_train=config.get("members_to_train", "all"),
                         seed=int(config.get("seed", 0)))


def build_trainer(config, **overrides) -> L.Trainer:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    output = Path(config["output"])
    checkpoint = ModelCheckpoint(dirpath=output / CHECKPOINT_DIR, filename="epoch{epoch:03d}",
                                 auto_insert_metric_name=False, **config["callbacks"]["checkpoint"])
    callbacks = [checkpoint, KSpaceValidationCallback(**config["callbacks"]["kspace"])]
    options = {**config["trainer"], **overrides}
    return L.Trainer(logger=TensorBoardLogger(output, name="logs"), callbacks=callbacks,
                     default_root_dir=output, use_distributed_sampler=False, **options)


def last_checkpoint(config) -> Path | None:
    path = Path(config["output"]) / CHECKPOINT_DIR / "last.ckpt"
    return path if path.exists() else None


def fit(config, resume: bool = True) -> tuple:
    """Train; with ``resume`` an existing ``<output>/checkpoints/last.ckpt`` is continued exactly
    (weights, optimizer, scheduler, epoch and step)."""
    L.seed_everything(int(config.get("seed", 0)), workers=True, verbose=False)
    data = build_datamodule(config)
    module = build_module(config, data)
    trainer = build_trainer(config)
    checkpoint = last_checkpoint(config) if resume else None
    trainer.fit(module, datamodule=data, ckpt_path=str(checkpoint) if checkpoint else None)
    return trainer, module, checkpoint


def checkpoint_files(paths) -> list:
    """Checkpoint files from files or directories (a directory contributes its ``**/last.ckpt``)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.rglob("last.ckpt"))
            if not found:
                raise FileNotFoundError(f"no last.ckpt under {path}")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"checkpoint {path} does not exist")
    return files


def load_module(config, data, checkpoints) -> NextHAMModule:
    """One module holding the members of all ``checkpoints`` (members trained separately combine)."""
    files = checkpoint_files(checkpoints)
    modules = [NextHAMModule.load_from_checkpoint(f, map_location="cpu", weights_only=False) for f in files]
    if len(modules) == 1:
        return modules[0].eval()
    members = {}
    for module in modules:
        for member in module.ensemble.members:
            if member.name in members:
                raise ValueError(f"member {member.name} appears in more than one checkpoint")
            members[member.name] = member
    combined = build_module({**config, "members_to_train": list(members)}, data)
    for member in combined.ensemble.members:
        member.load_state_dict(members[member.name].state_dict())
    return combined.eval()
