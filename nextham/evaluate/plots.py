"""Plots a person would rather look at than read: band structures (DFT vs predicted)."""
from __future__ import annotations

import numpy as np


def plot_bands(distances, true_energies, predicted_energies, fermi_energy, ticks, labels, title="",
               window_ev=(-8.0, 6.0), gauge_shift=None):
    """Matplotlib figure: DFT bands (solid) and predicted bands (dashed), energies relative to E_F.
    ``gauge_shift`` (eV): the μ* already removed from the predicted bands, named in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.5), dpi=110)
    true = np.asarray(true_energies) - fermi_energy
    predicted = np.asarray(predicted_energies) - fermi_energy
    for band in range(true.shape[1]):
        axis.plot(distances, true[:, band], color="black", lw=1.4, label="DFT" if band == 0 else None)
    for band in range(predicted.shape[1]):
        name = "predicted" if gauge_shift is None else f"predicted − μ*S (μ* = {1000 * gauge_shift:+.0f} meV)"
        axis.plot(distances, predicted[:, band], color="tab:red", lw=1.0, ls="--", label=name if band == 0 else None)
    for tick in ticks:
        axis.axvline(tick, color="0.8", lw=0.8)
    axis.axhline(0.0, color="0.6", lw=0.8, ls=":")
    axis.set_xticks(ticks, labels)
    axis.set_xlim(distances[0], distances[-1])
    axis.set_ylim(*window_ev)
    axis.set_ylabel("E − E_F (eV)")
    axis.set_title(title)
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
