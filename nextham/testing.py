"""Assertions for tests of models — nextham's own and a user's network alike (in the spirit of e3nn's
``assert_equivariant``): give it a predictor and real structures, it rotates the structures, predicts
again, and checks the blocks turned with the Wigner matrices of their shells (and SU(2) on spin)."""
from __future__ import annotations

import numpy as np
import torch

from .conventions import rotate_block
from .data.batch import collate_graphs, record_to_sample
from .kspace.populations import mulliken_populations


def rotate_padded_blocks(blocks, slot_ls, rotation, spinful: bool) -> np.ndarray:
    """Padded blocks (E, P, P) (or spin-major (E, 2P, 2P)) of a layout with shell slots ``slot_ls``
    after the structure is rotated by the orthogonal 3×3 ``rotation``."""
    return np.stack([rotate_block(b, slot_ls, slot_ls, rotation, spinful) for b in np.asarray(blocks)])


def assert_equivariant(predict, records, layout, rotation, spinful: bool = False, graph_cutoff: float | None = None,
                       atol: float = 1e-5, output: str = "delta_hamiltonian", min_magnitude: float = 1e-6) -> float:
    """Assert predict(R·structures) = D(R) predict(structures) D(R)† block by block; return the largest
    deviation.

    ``predict(batch)`` returns padded blocks (E, P', P') or a dict holding them under ``output``;
    ``records`` are :class:`~nextham.record.HamiltonianRecord` s (use float64 ones: rotating stored
    float32 blocks loses precision), ``layout`` their :class:`~nextham.data.layout.OrbitalLayout`,
    ``rotation`` a proper or improper orthogonal matrix. A prediction smaller than ``min_magnitude``
    everywhere is refused: equivariance would hold trivially."""
    def run(structures):
        # with H(0)'s populations, which each structure computes for itself (they must not turn)
        batch = collate_graphs([record_to_sample(r, spinful, graph_cutoff, mulliken_populations(r)) for r in structures],
                               layout, spinful, torch.float64)
        with torch.no_grad():
            result = predict(batch)
        return (result[output] if isinstance(result, dict) else result).detach().cpu().numpy()

    original = run(records)
    if not np.abs(original).max() > min_magnitude:
        raise AssertionError(f"the prediction is below {min_magnitude:g} everywhere: equivariance holds trivially; "
                             f"scale the output up (e.g. output_scale) for the test")
    turned = run([record.rotated(rotation, layout.basis) for record in records])
    expected = rotate_padded_blocks(original, layout.slot_ls, rotation, spinful)
    deviation = float(np.abs(turned - expected).max())
    if not deviation < atol:
        raise AssertionError(f"not equivariant: max |f(R·x) − D f(x) D†| = {deviation:.3e} ≥ {atol:g} "
                             f"(max |f(x)| = {np.abs(original).max():.3e})")
    return deviation
