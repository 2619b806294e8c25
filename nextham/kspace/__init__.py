"""Reciprocal space, one convention for everything: k-point meshes and paths, Bloch sums
H(k) = Σ_R exp(+2πi k·R) H(R), the generalized eigenproblem, the energy gauge μ*, and occupations
(E_F, gap) from bands and the electron count. Torch inside (CPU or GPU); numpy wrappers for records."""
from .bloch import bloch_sum, bloch_sum_blocks
from .eigensolver import generalized_eigh, generalized_eigvalsh
from .gauge import gauge_mae, gauge_shift, gauge_terms
from .meshes import mesh_for_length, monkhorst_pack
from .occupation import DEFAULT_SMEARING_EV, occupation_summary
from .paths import DEFAULT_PATH, kpath

__all__ = ["bloch_sum", "bloch_sum_blocks", "generalized_eigh", "generalized_eigvalsh", "gauge_mae", "gauge_shift",
           "gauge_terms", "mesh_for_length", "monkhorst_pack", "DEFAULT_SMEARING_EV", "occupation_summary",
           "DEFAULT_PATH", "kpath"]
