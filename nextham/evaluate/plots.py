"""Plots a person would rather look at than read: band structures (DFT vs predicted, E_F marked) and
parity plots (Matplotlib, Agg backend: no screen needed)."""
from __future__ import annotations

import numpy as np

from ..kspace import kpath
from ..metrics import band_spectra


def band_comparison_figure(predicted, batch, index: int, align_gauge: bool = True, density: int = 40, title: str | None = None):
    """(figure, label): bands of structure ``index`` of ``batch`` along ASE's automatic path of its cell
    (:func:`~nextham.kspace.kpath`), DFT H(T) vs ``predicted`` blocks, each structure in its own
    representation; the band figure of the callbacks, the test report and ``nextham bands``. A
    prediction's own bands beside its DOS are :meth:`nextham.predict.result.PredictedHamiltonian.plot`."""
    kpoints, distances, ticks, labels = kpath(batch.lattice[index].cpu().numpy(), density=density)
    (spectrum,) = band_spectra(predicted, batch, kpoints, align_gauge=align_gauge, structures=[index])
    figure = _draw_band_comparison(distances, spectrum["true"].cpu().numpy(), spectrum["predicted"].cpu().numpy(),
                        spectrum["fermi_energy"], ticks, labels, title=title or spectrum["label"],
                        gauge_shift=spectrum["gauge_shift"])
    return figure, spectrum["label"]


def close(figure):
    import matplotlib.pyplot as plt

    plt.close(figure)


def _draw_band_comparison(distances, true_energies, predicted_energies, fermi_energy, ticks, labels, title="",
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


def parity_plot(true, predicted, baseline, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.8, 4.5), dpi=110)
    axis.scatter(true, baseline, s=2, alpha=0.4, color="0.6", label="H(0)")
    axis.scatter(true, predicted, s=2, alpha=0.6, color="tab:red", label="H(0) + ΔĤ")
    limits = [min(true.min(), predicted.min()), max(true.max(), predicted.max())]
    axis.plot(limits, limits, color="black", lw=0.8)
    axis.set_xlabel("DFT H(T) off-site entries (eV)")
    axis.set_ylabel("predicted (eV)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
