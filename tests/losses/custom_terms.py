"""A user's own loss term, registered from outside nextham (imported through loss.imports)."""
from nextham.losses import LossTerm, register_loss


@register_loss("onsite_l1_for_tests")
class OnsiteL1(LossTerm):
    def forward(self, context):
        onsite = context.batch.edge_lengths < 1e-9
        return (context.delta_error[onsite].abs() * context.mask[onsite]).sum() / context.mask[onsite].sum()


@register_loss("gauge_l1_for_tests")
class GaugeL1(LossTerm):
    """A user's R-space term minimised in the closed-form gauge: it declares its gauge component."""

    gauge_component = "rspace"

    def forward(self, context):
        shift = context.mu_per_edge()[:, None, None] * context.overlap_blocks
        return context.per_structure_mean((context.delta_error - shift).abs())


@register_loss("trace_for_tests")
class TraceAuxiliary(LossTerm):
    """A user's auxiliary target, balanced against the Hamiltonian terms like TraceGrad's."""

    role = "auxiliary"

    def forward(self, context):
        return (context.prediction["trace"] - 1.0).abs().mean()
