"""Evaluation of a trained model (any module mapping a batch to Ĥ): the test report (Gauge MAE and
band metrics beside the H(0) baseline, gaps), prediction export (shards and DeepH folders) and plots
(one band-plot function, parity)."""
from .plots import band_plot, parity_plot, plot_bands
from .predictions import predicted_records, save_predictions
from .report import format_report, run_test

__all__ = ["band_plot", "parity_plot", "plot_bands", "predicted_records", "save_predictions", "format_report", "run_test"]
