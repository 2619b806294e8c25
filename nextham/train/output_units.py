"""The output unit of each distance-range member, measured on the training data.

What H(0) leaves to correct spans three orders of magnitude with distance: on the benchmark set the
root mean square of ΔH − μ*S is about 0.5 eV on the on-site blocks and 7 meV at 4–6 Å. One unit for
all members leaves the on-site member hundreds of Adam steps from its targets or the long-range one
resolving nothing finer than its steps, so each member's decoder output is scaled by the RMS of its own
range (``model.member_output_units: auto``), as interatomic potentials scale their output by the
training set's force RMS. The numbers are written into the member configs, hence into the checkpoint.
"""
from __future__ import annotations

import numpy as np

from ..conventions import spin_diagonal
from ..kspace.gauge import gauge_shift

FLOOR_EV = 1e-4  # a range without a stored correction keeps a usable unit


def correction_rms_by_range(dataset, labels, ranges) -> list:
    """RMS (eV) of ΔH − μ*S over the stored entries of ``labels`` in each distance range [lo, hi),
    μ* the per-structure gauge of the Gauge MAE (H(0) as the prediction)."""
    import torch

    squares, counts = np.zeros(len(ranges)), np.zeros(len(ranges))
    for label in labels:
        record = dataset.read(label)
        target = np.concatenate([b.ravel() for b in record.blocks("hamiltonian")])
        start = np.concatenate([b.ravel() for b in record.blocks("hamiltonian_0")])
        # S sized like the Hamiltonian blocks: S ⊗ I₂ for spin–orbit structures
        overlap_blocks = [spin_diagonal(b) if record.spinful else b for b in record.blocks("overlap")]
        overlap = np.concatenate([b.ravel() for b in overlap_blocks])
        mu = float(gauge_shift(torch.as_tensor(start), torch.as_tensor(target), torch.as_tensor(overlap)))
        error = np.abs(target - start + mu * overlap)
        sizes = [b.size for b in overlap_blocks]
        distance = np.repeat(record.edge_distances(), sizes)
        for index, (low, high) in enumerate(ranges):
            inside = (distance >= low - 1e-9) & (distance < high)
            squares[index] += float((error[inside] ** 2).sum())
            counts[index] += int(inside.sum())
    return [max(float(np.sqrt(s / c)), FLOOR_EV) if c else FLOOR_EV for s, c in zip(squares, counts)]


def with_member_output_units(model: dict, dataset, labels) -> dict:
    """``model`` with ``output_unit_ev`` set on every member when ``member_output_units`` is ``auto``
    (measured on ``labels``); a list gives them directly; null leaves the network's one unit."""
    choice = model.get("member_output_units")
    if choice is None:
        return model
    members = [dict(m) for m in model["members"]]
    if choice == "auto":
        units = correction_rms_by_range(dataset, labels, [m["distance_range"] for m in members])
    elif isinstance(choice, (list, tuple)) and len(choice) == len(members):
        units = [float(u) for u in choice]
    else:
        raise ValueError(f"model.member_output_units must be auto, null or one number per member "
                         f"({len(members)}), got {choice!r}")
    for member, unit in zip(members, units):
        member["output_unit_ev"] = round(float(unit), 6)
    return {**model, "members": members, "member_output_units": [m["output_unit_ev"] for m in members]}
