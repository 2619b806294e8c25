"""``nextham test``: Gauge MAE report (JSON, Markdown, terminal), parity and band plots, predictions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .evaluate.plots import plot_bands
from .kspace import kpath
from .io.deeph import write_deeph
from .io.shards import DatasetWriter
from .kspace import monkhorst_pack
from .metrics import BandMetrics, GaugeMAE, band_spectra
from .workflow import load_module, write_json


def run_test(config, checkpoints, split: str = "test", output=None, band_plots: int = 3, data=None) -> dict:
    from .workflow import build_datamodule

    data = data or build_datamodule(config)
    module = load_module(config, data, checkpoints)
    output = Path(output or Path(config["output"]) / "test")
    output.mkdir(parents=True, exist_ok=True)
    gauge = GaugeMAE(member_names=module.member_names)
    kspace = config["callbacks"]["kspace"]
    band_options = dict(window_ev=kspace["window_ev"], p_window_ev=kspace["p_window_ev"],
                        ghost_tolerance_ev=kspace["ghost_tolerance_ev"], align_gauge=kspace["align_gauge"])
    bands, baseline_bands = BandMetrics(**band_options), BandMetrics(**band_options)
    parity_true, parity_predicted, parity_baseline = [], [], []
    plotted = 0
    loader = data.loader(split)
    module.eval()
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"test ({split})", unit="batch"):
            prediction = module(batch)
            predicted = prediction["hamiltonian"]
            gauge.update(predicted, batch, prediction["member_of_edge"])
            bands.update(predicted, batch, monkhorst_pack(kspace["kmesh"]))
            baseline_bands.update(batch.hamiltonian_0, batch, monkhorst_pack(kspace["kmesh"]))
            mask = batch.orbital_mask & (batch.edge_lengths > 1e-9)[:, None, None]  # off-site, every stored pair
            parity_true.append(batch.hamiltonian[mask].real.cpu().numpy())
            parity_predicted.append(predicted[mask].real.cpu().numpy())
            parity_baseline.append(batch.hamiltonian_0[mask].real.cpu().numpy())
            for index in range(min(batch.num_structures, band_plots - plotted)):
                _band_plot(predicted, batch, index, output, kspace["align_gauge"])
                plotted += 1
    report = {"split": split, "checkpoints": [str(c) for c in checkpoints], **gauge.compute(), **bands.compute(),
              "baseline_bands": baseline_bands.compute()}
    _parity_plot(np.concatenate(parity_true), np.concatenate(parity_predicted), np.concatenate(parity_baseline),
                 output / "parity.png")
    report["gaps"] = save_predictions(module, data, split, output / "predictions")
    gaps = [g for g in report["gaps"] if g["true_gap_ev"] == g["true_gap_ev"] and g["predicted_gap_ev"] == g["predicted_gap_ev"]]
    for key, column in (("gap_mae_mev", "predicted_gap_ev"), ("baseline_gap_mae_mev", "h0_gap_ev")):
        report[key] = float(np.mean([abs(g[column] - g["true_gap_ev"]) for g in gaps]) * 1000.0) \
            if gaps else float("nan")
    write_json(output / "report.json", report)
    (output / "report.md").write_text(format_report(report))
    return report


def _band_plot(predicted, batch, index, output, align_gauge):
    lattice = batch.lattice[index].cpu().numpy()
    kpoints, distances, ticks, labels = kpath(lattice)
    (spectrum,) = band_spectra(predicted, batch, kpoints, align_gauge=align_gauge, structures=[index])
    figure = plot_bands(distances, spectrum["true"].numpy(), spectrum["predicted"].numpy(), spectrum["fermi_energy"],
                        ticks, labels, title=spectrum["label"], gauge_shift=spectrum["gauge_shift"])
    figure.savefig(output / f"bands_{spectrum['label']}.png")
    import matplotlib.pyplot as plt

    plt.close(figure)


def _parity_plot(true, predicted, baseline, path):
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


def format_report(report: dict) -> str:
    lines = [f"# Gauge MAE report ({report['split']}, {report['structures']} structures, {report['pairs']} pairs)", "",
             f"Averaged over: {report['averaged_over']}.", "",
             "| | model (meV) | H(0) baseline (meV) |", "|---|---:|---:|",
             f"| **Gauge MAE, all stored pairs** | **{report['gauge_mae_mev']:.3f}** | {report['baseline_gauge_mae_mev']:.3f} |"]
    if "predicted_pairs" in report:
        values = report["predicted_pairs"]
        lines.append(f"| Gauge MAE, pairs the members predict | {values['model']:.3f} | {values['baseline']:.3f} |")
    for block, values in report["spin_blocks"].items():
        lines.append(f"| {block} real / imag | {values['model_real']:.3f} / {values['model_imag']:.3f} "
                     f"| {values['baseline_real']:.3f} / {values['baseline_imag']:.3f} |")
    for element, values in report["elements"].items():
        lines.append(f"| element {element} | {values['model']:.3f} | {values['baseline']:.3f} |")
    for pair, values in sorted(report["element_pairs"].items()):
        lines.append(f"| {pair} | {values['model']:.3f} | {values['baseline']:.3f} |")
    for member, values in report.get("members", {}).items():
        lines.append(f"| member {member} ({values['entries']} entries) | {values['model']:.3f} | {values['baseline']:.3f} |")
    baseline = report["baseline_bands"]
    lines += ["", f"| bands ({report['kpoints']} k-points) | model | H(0) baseline |", "|---|---:|---:|",
              f"| band-energy MAE within ±2 eV of E_F (meV) | {report['band_mae_mev']:.2f} | {baseline['band_mae_mev']:.2f} |",
              f"| ghost states | {report['ghost_states']} | {baseline['ghost_states']} |",
              f"| mean ‖PQ block‖ (meV) | {report['pq_norm_mev']:.2f} | {baseline['pq_norm_mev']:.2f} |",
              f"| mean \\|μ*\\| removed from the bands (meV) | {report['mean_abs_gauge_shift_mev']:.1f} "
              f"| {baseline['mean_abs_gauge_shift_mev']:.1f} |", ""]
    if report.get("gaps"):
        lines += [f"Band gaps from the electron count, gap MAE {report['gap_mae_mev']:.1f} meV (H(0): "
                  f"{report['baseline_gap_mae_mev']:.1f} meV); E_F mid-gap, each in its Hamiltonian's own energy zero:",
                  "", "| structure | DFT gap (eV) | predicted gap (eV) | H(0) gap (eV) | DFT E_F (eV) | predicted E_F (eV) |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {g['label']} | {g['true_gap_ev']:.3f} | {g['predicted_gap_ev']:.3f} | {g['h0_gap_ev']:.3f} "
                  f"| {g['true_fermi_ev']:.3f} | {g['predicted_fermi_ev']:.3f} |" for g in report["gaps"]]
        lines.append("")
    return "\n".join(lines)


def save_predictions(module, data, split, folder, deeph_folder=None, spinful: bool = False):
    """Predicted Ĥ as nextham shards (``hamiltonian`` = Ĥ) and optionally the DeepH new format
    (``hamiltonian_pred.h5`` beside the input's overlap and H(0), the input's atom pairs in the input's
    order; each structure as what it is, or all spinful with ``spinful``)."""
    from .workflow import predicted_records

    writer = DatasetWriter(folder, data.dataset.basis, provenance={"predicted_by": "nextham", "split": split},
                           split_fractions={split: 1.0})
    records, gaps = [], []
    for predicted, original in predicted_records(module, data, split):
        records.append(predicted)
        truth = original.occupation()
        gaps.append({"label": predicted.label, "true_gap_ev": truth["band_gap"],
                     "predicted_gap_ev": predicted.metadata["band_gap_ev"],
                     "h0_gap_ev": original.occupation("hamiltonian_0")["band_gap"],
                     "true_fermi_ev": truth["fermi_energy"], "predicted_fermi_ev": predicted.fermi_energy})
        if deeph_folder is not None:
            write_deeph(Path(deeph_folder) / "dft" / predicted.label, predicted.as_spinful() if spinful else predicted,
                        data.dataset.basis, hamiltonian_name="hamiltonian_pred.h5")
    writer.append_shard(records)
    return gaps
