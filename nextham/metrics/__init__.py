"""Metrics (torchmetrics, DDP-safe): the Gauge MAE over every stored pair — the headline number — and
band metrics (band-energy MAE, ghost states, the PQ coupling norm)."""
from .bands import BandMetrics, band_spectra, ghost_state_count
from .gauge_mae import PAIRS_DESCRIPTION, SPIN_BLOCKS, GaugeMAE

__all__ = ["BandMetrics", "band_spectra", "ghost_state_count", "PAIRS_DESCRIPTION", "SPIN_BLOCKS", "GaugeMAE"]
