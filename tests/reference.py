"""Independent reference computations the tests compare the package against (plain numpy, written
out here on purpose rather than imported from nextham, so that a check cannot agree with itself)."""
import numpy as np


def spinor_overlap_blocks(record):
    """Overlap blocks sized like the Hamiltonian blocks: S ⊗ I₂ (spin-major) when spinful."""
    blocks = record.blocks("overlap")
    return [np.kron(np.eye(2), b) for b in blocks] if record.spinful else blocks


def gauge_mae(predicted: np.ndarray, target: np.ndarray, overlap: np.ndarray) -> float:
    """MAE of predicted − (target + μ* S) with μ* = Re⟨predicted − target, S⟩ / ‖S‖² (flat arrays,
    same layout)."""
    difference = predicted - target
    mu = float(np.real(np.vdot(overlap, difference)) / max(np.vdot(overlap, overlap).real, 1e-30))
    return float(np.abs(difference - mu * overlap).mean())
