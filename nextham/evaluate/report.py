"""The test report of ``nextham test``: Gauge MAE and band metrics beside the H(0) baseline, band gaps,
as JSON, Markdown and the terminal table, with parity and band plots and the saved predictions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..io.jsonfile import write_json
from ..io.shards import EVALUATION_GROUPS
from ..kspace import monkhorst_pack
from ..metrics import BandMetrics, GaugeMAE
from .domain import atom_features, flag_table
from .plots import band_comparison_figure, close, parity_plot
from .predictions import save_predictions


def trained_elements(module) -> set:
    """Elements of the model's training data (empty when the checkpoint does not say)."""
    card = getattr(getattr(module, "hparams", None), "dataset", None) or {}
    return set(card.get("basis") or {})


def evaluation_group(dataset, trained: set):
    """The group of a structure: the dataset's (in_distribution, new_combination, held_out_element), and
    held_out_element whenever it holds an element the model was not trained on."""
    def group_of(label, symbols):
        if trained and set(symbols) - trained:
            return "held_out_element"
        return dataset.group_of(label)
    return group_of


def run_test(module, data, kspace: dict, output, split: str = "test", band_plots: int = 3, checkpoints=(),
             domain=None) -> dict:
    """Evaluate ``module`` (batch → {"hamiltonian", "member_of_edge"}) on ``split`` of ``data``;
    ``kspace``: the band-metric options (``callbacks.kspace`` of a fit config); ``domain``: the
    checkpoint's :class:`~nextham.evaluate.domain.DomainStatistics`, which adds each structure's verdict
    and the flag table. Writes report.json, report.md, parity and band PNGs and the predictions under
    ``output``; returns the report."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    gauge = GaugeMAE(member_names=getattr(module, "member_names", ()),
                     group_of=evaluation_group(data.dataset, trained_elements(module)), group_names=EVALUATION_GROUPS)
    band_options = dict(window_ev=kspace["window_ev"], p_window_ev=kspace["p_window_ev"],
                        ghost_tolerance_ev=kspace["ghost_tolerance_ev"], align_gauge=kspace["align_gauge"])
    bands, baseline_bands = BandMetrics(**band_options), BandMetrics(**band_options)
    parity_true, parity_predicted, parity_baseline = [], [], []
    plotted = 0
    loader = data.loader(split)
    verdicts = {}
    module.eval()
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"test ({split})", unit="batch"):
            prediction = module(batch)
            predicted = prediction["hamiltonian"]
            gauge.update(predicted, batch, prediction["member_of_edge"])
            if domain is not None:
                for label, (symbols, features) in zip(batch.labels, atom_features(prediction, batch)):
                    verdicts[label] = domain.assess(symbols, features)
            bands.update(predicted, batch, monkhorst_pack(kspace["kmesh"]))
            baseline_bands.update(batch.hamiltonian_0, batch, monkhorst_pack(kspace["kmesh"]))
            mask = batch.orbital_mask & (batch.edge_lengths > 1e-9)[:, None, None]  # off-site, every stored pair
            parity_true.append(batch.hamiltonian[mask].real.cpu().numpy())
            parity_predicted.append(predicted[mask].real.cpu().numpy())
            parity_baseline.append(batch.hamiltonian_0[mask].real.cpu().numpy())
            for index in range(min(batch.num_structures, band_plots - plotted)):
                figure, label = band_comparison_figure(predicted, batch, index, align_gauge=kspace["align_gauge"])
                figure.savefig(output / f"bands_{label}.png")
                close(figure)
                plotted += 1
    report = {"split": split, "checkpoints": [str(c) for c in checkpoints], **gauge.compute(), **bands.compute(),
              "baseline_bands": baseline_bands.compute()}
    report["per_structure"] = [{**row, "group": data.dataset.group_of(row["label"]), **verdicts.get(row["label"], {})}
                               for row in gauge.per_structure()]
    if domain is not None:
        report["domain"] = flag_table([(row["in_domain"], row["model_mev"], row["baseline_mev"])
                                       for row in report["per_structure"]])
    parity_plot(np.concatenate(parity_true), np.concatenate(parity_predicted), np.concatenate(parity_baseline),
                output / "parity.png")
    report["gaps"] = save_predictions(module, data, split, output / "predictions")
    gaps = [g for g in report["gaps"] if g["true_gap_ev"] == g["true_gap_ev"] and g["predicted_gap_ev"] == g["predicted_gap_ev"]]
    for key, column in (("gap_mae_mev", "predicted_gap_ev"), ("baseline_gap_mae_mev", "h0_gap_ev")):
        report[key] = float(np.mean([abs(g[column] - g["true_gap_ev"]) for g in gaps]) * 1000.0) \
            if gaps else float("nan")
    write_json(output / "report.json", report)
    (output / "report.md").write_text(format_report(report))
    return report


def format_report(report: dict) -> str:
    lines = [f"# Gauge MAE report ({report['split']}, {report['structures']} structures, {report['pairs']} pairs)", "",
             f"Averaged over: {report['averaged_over']}.", "",
             "| | model (meV) | H(0) baseline (meV) |", "|---|---:|---:|",
             f"| **Gauge MAE, all stored pairs** | **{report['gauge_mae_mev']:.3f}** | {report['baseline_gauge_mae_mev']:.3f} |"]
    if "predicted_pairs" in report:
        values = report["predicted_pairs"]
        lines.append(f"| Gauge MAE, pairs the members predict | {values['model']:.3f} | {values['baseline']:.3f} |")
    for group, values in report.get("groups", {}).items():
        lines.append(f"| group {group} ({values['structures']} structures) | {values['model']:.3f} | {values['baseline']:.3f} |")
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
    rows = report.get("per_structure") or []
    if rows:
        better = sum(row["model_mev"] < row["baseline_mev"] for row in rows)
        lines += [f"{better} of {len(rows)} structures better than H(0). The ten with the largest model / H(0) ratio:", "",
                  "| structure | group | model (meV) | H(0) (meV) | model / H(0) | domain |", "|---|---|---:|---:|---:|---|"]
        for row in sorted(rows, key=lambda r: -(r["ratio"] or 0.0))[:10]:
            verdict = {True: "in", False: "out", None: "—"}[row.get("in_domain")]
            lines.append(f"| {row['label']} | {row['group']} | {row['model_mev']:.3f} | {row['baseline_mev']:.3f} "
                         f"| {row['ratio']:.2f} | {verdict} |")
        lines.append("")
    if report.get("domain"):
        table = report["domain"]
        share = lambda x: "—" if x is None else f"{100 * x:.0f} %"  # noqa: E731
        lines += ["Domain check (out of domain: an unseen element, or an atom farther in feature space from its "
                  "element's training atoms than 1.1x the farthest of them):", "", "| | flagged out of domain | in domain |", "|---|---:|---:|",
                  f"| model worse than H(0) | {table['harmed_flagged']} | {table['harmed_unflagged']} |",
                  f"| model better than H(0) | {table['helped_flagged']} | {table['helped_unflagged']} |", "",
                  f"Harm found: {share(table['harm_found'])}; good structures flagged by mistake: "
                  f"{share(table['false_alarms'])}.", ""]
    if report.get("gaps"):
        lines += [f"Band gaps from the electron count, gap MAE {report['gap_mae_mev']:.1f} meV (H(0): "
                  f"{report['baseline_gap_mae_mev']:.1f} meV); E_F mid-gap, each in its Hamiltonian's own energy zero:",
                  "", "| structure | DFT gap (eV) | predicted gap (eV) | H(0) gap (eV) | DFT E_F (eV) | predicted E_F (eV) |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {g['label']} | {g['true_gap_ev']:.3f} | {g['predicted_gap_ev']:.3f} | {g['h0_gap_ev']:.3f} "
                  f"| {g['true_fermi_ev']:.3f} | {g['predicted_fermi_ev']:.3f} |" for g in report["gaps"]]
        lines.append("")
    return "\n".join(lines)
