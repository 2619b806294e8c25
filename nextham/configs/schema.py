"""What a training config may hold: the keys of the packaged ``fit.yaml`` and its sections (every
default is written there), and for ``trainer`` the keyword arguments of ``lightning.Trainer``. A key
outside them is a one-line error naming it and the nearest valid one, and a value that cannot be what
its default is (a mapping, a number, a flag) one naming the key, before anything runs."""
from __future__ import annotations

import difflib
import inspect

# top-level keys a recipe may add beyond fit.yaml's own
EXTRA_TOP_LEVEL = ("shipped_checkpoint",)
# sections whose keys are checked by what they configure, not by the reference config
FREE_SECTIONS = ("loss",)  # the loss registry names its own terms (nextham.losses)


def _unknown(key, valid, where: str) -> ValueError:
    near = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    hint = f"; did you mean {where}{near[0]}?" if near else f"; {where.rstrip('.') or 'the config'} holds {', '.join(map(str, valid))}"
    return ValueError(f"unknown config key {where}{key}{hint}")


def _wrong_kind(node, reference, where: str) -> ValueError | None:
    """An error when ``node`` cannot be what the reference value is (a mapping, a number, a flag)."""
    name = where.rstrip(".")
    if isinstance(reference, dict) and not isinstance(node, dict):
        example = ", ".join(f"{k}: {v}" for k, v in list(reference.items())[:3])
        return ValueError(f"config key {name} must be a mapping like {{{example}, ...}}, not {node!r}")
    if isinstance(reference, bool) and not isinstance(node, bool):
        return ValueError(f"config key {name} must be true or false, not {node!r}")
    if isinstance(reference, (int, float)) and not isinstance(reference, bool) and \
            (isinstance(node, (str, bool, dict, list))):
        return ValueError(f"config key {name} must be a number like {reference}, not {node!r}")
    return None


def _check(node, reference, where: str):
    if node is None or reference is None:
        return
    error = _wrong_kind(node, reference, where)
    if error is not None:
        raise error
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key not in reference:
            raise _unknown(key, list(reference), where)
        _check(value, reference[key], f"{where}{key}.")


def trainer_keys() -> list:
    import lightning as L

    return [name for name in inspect.signature(L.Trainer.__init__).parameters if name != "self"]


def check_training_config(config: dict) -> dict:
    """``config`` unchanged when every key is one the packaged training config knows (``trainer``: a
    ``lightning.Trainer`` argument); else a ValueError naming the key and the nearest valid one."""
    from . import load_config

    reference = load_config("fit")
    for key in EXTRA_TOP_LEVEL:
        reference.setdefault(key, None)
    for key, value in config.items():
        if key not in reference:
            raise _unknown(key, list(reference), "")
        if key == "trainer":
            valid = trainer_keys()
            for name in value or {}:
                if name not in valid:
                    raise _unknown(name, valid, "trainer.")
        elif key not in FREE_SECTIONS:
            _check(value, reference[key], f"{key}.")
    return config
