"""Checkpoints: where a run keeps them, which files a user means, and loading them back into one
module (members trained separately combine). Checkpoints written by earlier layouts of the package
load too (their state-dict keys are kept; a test holds one)."""
from __future__ import annotations

from pathlib import Path

from .builders import BEST_NAME, CHECKPOINT_DIR, LAST_NAME, dataset_card
from .module import NextHAMModule


def last_checkpoint(config) -> Path | None:
    """The run's latest training state (``last.ckpt``), which ``nextham fit`` resumes."""
    path = Path(config["output"]) / CHECKPOINT_DIR / f"{LAST_NAME}.ckpt"
    return path if path.exists() else None


def best_checkpoint(config) -> Path | None:
    """The run's best validation epoch (``best.ckpt``), which test and predict read; the latest state
    where a run has none (one without validation, or written before runs kept both)."""
    path = Path(config["output"]) / CHECKPOINT_DIR / f"{BEST_NAME}.ckpt"
    return path if path.exists() else last_checkpoint(config)


def _evaluated_in(folder: Path) -> list:
    """The checkpoints a run folder holds for evaluation: each checkpoint folder's best.ckpt, else its last.ckpt."""
    found = []
    for last in sorted(folder.rglob(f"{LAST_NAME}.ckpt")):
        best = last.with_name(f"{BEST_NAME}.ckpt")
        found.append(best if best.exists() else last)
    return found


def checkpoint_files(paths) -> list:
    """Checkpoint files from files or directories (a directory contributes each of its checkpoint
    folders' ``best.ckpt``, else ``last.ckpt``)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = _evaluated_in(path)
            if not found:
                raise FileNotFoundError(f"no last.ckpt under {path}")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"checkpoint {path} does not exist")
    return files


def load_module(checkpoints) -> NextHAMModule:
    """One module (in eval mode, on the CPU) holding the members of all ``checkpoints`` (files or run
    directories; members trained separately combine)."""
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
    combined = NextHAMModule(**{**modules[0].hparams, "members_to_train": list(members)})
    for member in combined.ensemble.members:
        member.load_state_dict(members[member.name].state_dict())
    combined.stored_domain = next((m.stored_domain for m in modules if m.stored_domain), None)
    return combined.eval()


# what a checkpoint needs to predict; the rest (optimizer moments, scheduler, loop state) only resumes training
_INFERENCE_KEYS = ("state_dict", "hyper_parameters", "hparams_name", "pytorch-lightning_version",
                   "datamodule_hyper_parameters", "epoch", "global_step")


def export_checkpoint(source, destination) -> Path:
    """A checkpoint for inference only: ``source`` (a file or run directory) without its optimizer and
    loop state (Adam's moments are twice the weights); it loads with :func:`load_module` like the original."""
    import torch

    from ..io.atomic import atomic_write

    (file,) = checkpoint_files([source])
    checkpoint = torch.load(file, map_location="cpu", weights_only=False)
    slim = {key: checkpoint[key] for key in _INFERENCE_KEYS if key in checkpoint}
    slim["exported_from"] = str(file)
    atomic_write(Path(destination), lambda temporary: torch.save(slim, temporary))
    return Path(destination)


def module_dataset_card(module: NextHAMModule, checkpoint) -> dict:
    """The module's dataset card (basis, engine settings, graph cutoff, dtype). A checkpoint written
    before cards existed gets one from the dataset it was trained on (the embedded one by default)."""
    card = module.hparams.get("dataset")
    if card:
        return dict(card)
    import torch

    from ..assets import embedded_dataset_path
    from ..io.shards import ShardedDataset

    hyper = torch.load(checkpoint_files([checkpoint])[0], map_location="cpu", weights_only=False).get(
        "datamodule_hyper_parameters", {})
    dataset = ShardedDataset(hyper.get("root") or embedded_dataset_path())
    return dataset_card(dataset, hyper.get("max_edge_length_angstrom", 8.0), hyper.get("dtype", "float64"),
                        train_split=None)
