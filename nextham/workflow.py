"""What ``nextham fit | test | predict | bands`` do, as importable functions."""
from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import torch

from .callbacks import KSpaceValidationCallback
from .graph.batch import unpad_blocks
from .graph.datamodule import HamiltonianDataModule
from .record import HamiltonianRecord
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


def _predictions(module, loader):
    module.eval()
    with torch.no_grad():
        for batch in loader:
            yield batch, module(batch)


def predicted_records(module, data, split: str):
    """(record with hamiltonian = Ĥ, the original record) for every structure of ``split``.

    Ĥ covers every stored pair of the structure, in the original's pair order and representation
    (spinless structures stay spinless): members inside their ranges, H(0) elsewhere; S untouched.
    Its E_F and gap come from Ĥ's own bands and the electron count."""
    loader = data.loader(split)
    for batch, prediction in _predictions(module, loader):
        per_structure = unpad_blocks(prediction["hamiltonian"], batch, data.layout)
        owners = prediction["member_of_edge"].cpu().numpy()
        start = 0
        for label, blocks in zip(batch.labels, per_structure):
            original = data.dataset.read(label)
            if len(blocks) != original.num_edges:
                raise RuntimeError(f"{label}: the batch holds {len(blocks)} pairs, the dataset {original.num_edges}")
            flat = HamiltonianRecord.flatten_blocks(blocks)
            predicted = original.with_hamiltonian(flat.astype(np.complex128 if original.spinful else np.float64))
            occupation = predicted.occupation()
            predicted.fermi_energy = occupation["fermi_energy"]
            predicted.metadata.update({"prediction": True, "band_gap_ev": occupation["band_gap"],
                                       "member_of_edge": owners[start:start + original.num_edges].tolist()})
            start += original.num_edges
            yield predicted, original


def write_json(path, data):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, default=float))
