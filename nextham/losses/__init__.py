"""Loss terms (R-space, k-space P/Q/PQ with the closed-form gauge, TraceGrad) and their registry."""
from . import terms  # noqa: F401  (registers the built-in terms)
from .composite import CompositeLoss
from .context import LossContext
from .registry import LOSSES, LossTerm, build_terms, register_loss

__all__ = ["LOSSES", "LossTerm", "register_loss", "build_terms", "CompositeLoss", "LossContext"]
