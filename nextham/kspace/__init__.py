"""Reciprocal space, one convention for everything: k-point meshes and paths, Bloch sums
H(k) = Σ_R exp(+2πi k·R) H(R), the generalized eigenproblem, the energy gauge μ*, and occupations
(E_F and gap from bands and the electron count, converged on the mesh; the tetrahedron method).
Torch inside (CPU or GPU); numpy wrappers for records."""
from .bloch import BlockSums, bloch_sum, bloch_sum_blocks
from .eigensolver import generalized_eigh, generalized_eigvalsh
from .gauge import gauge_mae, gauge_shift, gauge_terms
from .meshes import mesh_for_length, monkhorst_pack
from .occupation import DEFAULT_SMEARING_EV, converged_occupation, occupation_facts, occupation_summary
from .paths import DEFAULT_PATH, describe_kpoint, high_symmetry_segments, kpath, segment_kpoints
from .tetrahedron import tetrahedron_fermi_level

__all__ = ["BlockSums", "bloch_sum", "bloch_sum_blocks", "generalized_eigh", "generalized_eigvalsh",
           "gauge_mae", "gauge_shift", "gauge_terms", "mesh_for_length", "monkhorst_pack", "DEFAULT_SMEARING_EV", "converged_occupation",
           "occupation_facts", "occupation_summary", "DEFAULT_PATH", "describe_kpoint", "high_symmetry_segments",
           "kpath", "segment_kpoints", "tetrahedron_fermi_level"]
