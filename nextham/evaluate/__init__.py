"""Evaluation of a trained model (any module mapping a batch to Ĥ): the test report (Gauge MAE and
band metrics beside the H(0) baseline, gaps), prediction export (shards and DeepH folders) and plots
(the DFT-vs-predicted band figure, parity)."""
from .plots import band_comparison_figure, parity_plot
from .predictions import predicted_records, save_predictions
from .report import format_report, run_test

__all__ = ["band_comparison_figure", "parity_plot", "predicted_records", "save_predictions", "format_report",
           "run_test"]
