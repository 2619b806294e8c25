"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file behind."""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, write):
    """Call ``write(temporary_path)`` then rename over ``path``; the temporary file never survives."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
