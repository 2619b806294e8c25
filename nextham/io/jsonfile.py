"""JSON that every reader accepts: NaN and ±inf, which ``json`` writes as bare ``NaN``/``Infinity``
(not JSON), become ``null``; numpy scalars and arrays become numbers and lists. Written atomically."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .atomic import atomic_write


def json_ready(value):
    """``value`` with NaN/inf as None, numpy types as Python ones, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, data, indent: int = 1) -> Path:
    """``data`` as strict JSON in ``path`` (a crash leaves the previous file, never half of one)."""
    text = json.dumps(json_ready(data), indent=indent, allow_nan=False)
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))
    return Path(path)
