"""The generalized eigenproblem H(k) C = S(k) C ε, solved without inverting S."""
from __future__ import annotations

import math

import numpy as np
import torch


def generalized_eigh(hamiltonian, overlap, threshold: float = 1e-6):
    """Solve H C = S C ε without inverting S: canonical orthogonalisation X = V s^-1/2 over the
    eigenvectors of S whose eigenvalue exceeds ``threshold``·max, then H' = X† H X.

    Returns (ε, C) with C† S C = 1; near-linearly-dependent combinations of orbitals are projected
    out, so a near-singular overlap cannot produce spurious states."""
    values, vectors = torch.linalg.eigh(overlap)
    keep = values > threshold * values.max(dim=-1, keepdim=True).values
    if bool(keep.all()):
        transform = vectors / values.sqrt()[..., None, :]
        energies, rotated = torch.linalg.eigh(transform.mH @ hamiltonian @ transform)
        return energies, transform @ rotated
    outputs = [generalized_eigh(h[None], s[None], threshold) for h, s in zip(hamiltonian, overlap)] \
        if hamiltonian.ndim == 3 and hamiltonian.shape[0] > 1 else None
    if outputs is not None:  # different k may drop different numbers of states: pad with +inf
        width = max(e.shape[-1] for e, _ in outputs)
        energies = torch.stack([torch.nn.functional.pad(e[0], (0, width - e.shape[-1]), value=math.inf)
                                for e, _ in outputs])
        coefficients = torch.stack([torch.nn.functional.pad(c[0], (0, width - c.shape[-1])) for _, c in outputs])
        return energies, coefficients
    kept = keep[0] if keep.ndim > 1 else keep
    transform = vectors[..., :, kept] / values[..., kept].sqrt()[..., None, :]
    energies, rotated = torch.linalg.eigh(transform.mH @ hamiltonian @ transform)
    return energies, transform @ rotated


def generalized_eigvalsh(hamiltonian_k, overlap_k) -> np.ndarray:
    """Eigenvalues (K, n) of numpy H(k), S(k) (ascending), every state kept (an S that is not
    positive definite drops its non-positive directions rather than failing)."""
    energies, _ = generalized_eigh(torch.as_tensor(np.asarray(hamiltonian_k, dtype=np.complex128)),
                                   torch.as_tensor(np.asarray(overlap_k, dtype=np.complex128)), threshold=0.0)
    return energies.numpy()
