"""H(0), H(T) and S built directly in real space, pair by pair, without a k-mesh.

Density-independent parts (overlap, kinetic, the GTH pseudopotential's short-range local and
non-local parts) are analytic two- and three-centre integrals over translated atoms; the Hartree,
long-range pseudopotential and exchange–correlation potential of a density live on the cell's
uniform mesh and are integrated against basis-function products box by box. Cost grows with
atoms × neighbours; the grid work runs in torch on CPU or CUDA.
"""
from .builder import RealSpaceBuilder, memory_estimate

__all__ = ["RealSpaceBuilder", "memory_estimate"]
