"""The spinor block layout: spin-major ``[[↑↑, ↑↓], [↓↑, ↓↓]]``, each sub-block n_i × n_j.

Spinful (spin–orbit) Hamiltonian blocks are 2n_i × 2n_j in this layout; the overlap always stays
spinless, and a spinless matrix enters a spinor basis as X ⊗ I₂ (:func:`spin_diagonal`).
"""
from __future__ import annotations

import numpy as np
import torch


def spin_diagonal(blocks):
    """X ⊗ I₂ in the spin-major layout for one block (n, m) or a stack (..., n, m); numpy or torch
    (differentiable), same dtype."""
    *lead, rows, cols = blocks.shape
    if torch.is_tensor(blocks):
        out = blocks.new_zeros(*lead, 2 * rows, 2 * cols)
    else:
        out = np.zeros((*lead, 2 * rows, 2 * cols), dtype=np.asarray(blocks).dtype)
    out[..., :rows, :cols] = blocks
    out[..., rows:, cols:] = blocks
    return out


def spin_scalar_part(blocks):
    """Re(X↑↑ + X↓↓)/2: the part of spin-major blocks a spinless Hamiltonian can hold (X itself for
    X ⊗ I₂); numpy or torch."""
    rows, cols = blocks.shape[-2] // 2, blocks.shape[-1] // 2
    return (0.5 * (blocks[..., :rows, :cols] + blocks[..., rows:, cols:])).real


def spin_block_slices(size: int):
    """The (↑, ↓) index slices of a spin-major matrix of side ``size`` (= 2n)."""
    half = size // 2
    return slice(0, half), slice(half, size)
