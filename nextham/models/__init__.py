"""Equivariant networks predicting ΔH from H(0). Empty in this release: the data layer comes first."""
