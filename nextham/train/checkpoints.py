"""Checkpoints: where a run keeps them, which files a user means, and loading them back into one
module (members trained separately combine). Checkpoints written by earlier layouts of the package
load too (their state-dict keys are kept; a test holds one)."""
from __future__ import annotations

from pathlib import Path

from .builders import CHECKPOINT_DIR, build_module
from .module import NextHAMModule


def last_checkpoint(config) -> Path | None:
    path = Path(config["output"]) / CHECKPOINT_DIR / "last.ckpt"
    return path if path.exists() else None


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
