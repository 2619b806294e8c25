"""The equivariant network (plain torch modules): small equivariant layers, TraceGrad, the
Wigner–Eckart converter between orbital blocks and irreps, the NextHAM transformer that maps H(0) to
ΔH, and the ensemble of distance-range members that assembles Ĥ = H(0) + ΔĤ."""
from .ensemble import DistanceRangeMember, NextHAMEnsemble
from .network import NextHAMNet
from .wigner_eckart import BlockIrreps

__all__ = ["BlockIrreps", "NextHAMNet", "DistanceRangeMember", "NextHAMEnsemble"]
