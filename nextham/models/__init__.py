"""Equivariant networks predicting ΔH = H(T) − H(0) from H(0)."""
from .members import DistanceRangeMember, NextHAMEnsemble
from .network import NextHAMNet
from .wigner_eckart import BlockIrreps

__all__ = ["BlockIrreps", "NextHAMNet", "DistanceRangeMember", "NextHAMEnsemble"]
