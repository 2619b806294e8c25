"""Fermi level, band gap and occupation from band energies and the valence electron count.

A spinless band holds two electrons, a spinor band one. For an insulator (a gap after the last
occupied band at every k) E_F is put mid-gap, so that tools which count states below E_F (DeepH-dock
among them) see exactly the occupied bands whatever the rounding; for a metal E_F is the chemical
potential of Fermi–Dirac smearing that holds the electron count.
"""
from __future__ import annotations

import math

import numpy as np

DEFAULT_SMEARING_EV = 0.025  # kT of the Fermi–Dirac smearing used for metals


def _fermi_dirac(energies, mu, width):
    return 0.5 * (1.0 - np.tanh((energies - mu) / (2.0 * width)))


def occupation_summary(eigenvalues, num_electrons: float, spinful: bool, weights=None,
                       smearing_ev: float = DEFAULT_SMEARING_EV) -> dict:
    """``eigenvalues`` (K, n) in eV on a uniform k-mesh (``weights`` per k, default equal).

    Returns ``fermi_energy`` (eV), ``band_gap`` (eV, 0 for a metal), ``vbm``/``cbm`` (NaN for a metal),
    ``metallic`` and ``occupied_bands``; NaN throughout when the electron count is unknown."""
    eigenvalues = np.sort(np.asarray(eigenvalues, dtype=np.float64).reshape(-1, np.shape(eigenvalues)[-1]), axis=1)
    nan = {"fermi_energy": math.nan, "band_gap": math.nan, "vbm": math.nan, "cbm": math.nan, "metallic": None,
           "occupied_bands": None}
    if not math.isfinite(num_electrons) or eigenvalues.size == 0:
        return nan
    per_band = 1.0 if spinful else 2.0
    capacity = per_band * eigenvalues.shape[1]
    if num_electrons > capacity + 1e-9 or num_electrons < 0:
        raise ValueError(f"{num_electrons} electrons do not fit in {eigenvalues.shape[1]} bands "
                         f"({'spinor' if spinful else 'spinless'}, {capacity:g} electrons at most)")
    weights = np.full(len(eigenvalues), 1.0 / len(eigenvalues)) if weights is None \
        else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    filled = num_electrons / per_band
    occupied = int(round(filled))
    if abs(filled - occupied) < 1e-6 and 0 < occupied < eigenvalues.shape[1]:
        vbm, cbm = float(eigenvalues[:, occupied - 1].max()), float(eigenvalues[:, occupied].min())
        if cbm > vbm:
            return {"fermi_energy": 0.5 * (vbm + cbm), "band_gap": cbm - vbm, "vbm": vbm, "cbm": cbm,
                    "metallic": False, "occupied_bands": occupied}
    if abs(filled - occupied) < 1e-6 and occupied == eigenvalues.shape[1]:  # every band full
        top = float(eigenvalues.max())
        return {"fermi_energy": top, "band_gap": math.nan, "vbm": top, "cbm": math.nan, "metallic": False,
                "occupied_bands": occupied}
    low, high = float(eigenvalues.min()) - 10 * smearing_ev - 1.0, float(eigenvalues.max()) + 10 * smearing_ev + 1.0
    count = lambda mu: per_band * float((weights[:, None] * _fermi_dirac(eigenvalues, mu, smearing_ev)).sum())
    for _ in range(200):  # bisection: the count is monotonic in mu
        middle = 0.5 * (low + high)
        low, high = (middle, high) if count(middle) < num_electrons else (low, middle)
        if high - low < 1e-10:
            break
    return {"fermi_energy": 0.5 * (low + high), "band_gap": 0.0, "vbm": math.nan, "cbm": math.nan, "metallic": True,
            "occupied_bands": None}
