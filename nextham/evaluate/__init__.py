"""Evaluation: test reports, prediction export, plots."""
