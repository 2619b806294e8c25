"""The user's workflow, measured on CPU. Prints tables; nothing is asserted.

    python benchmarks/workflow_benchmark.py accuracy [--config bench] [--epochs 30]   # the paper's ablations
    python benchmarks/workflow_benchmark.py throughput [--config bench]             # structures/s, peak memory

(a) accuracy: the paper's ablations, each a row trained with the same budget (``--epochs`` of the fit
    config, default the embedded demo ``fit``; ``bench`` is the benchmark dataset's recipe), scored on
    the test split beside the H(0)-only baseline: the default model (H(0) input, joint R + k-space loss,
    four distance-range members); element embedding instead of H(0) input (and without the populations
    of H(0)'s bands); the k-space loss terms off (ghost states and the PQ norm are what they guard); one
    network for all distances instead of four; and, when the fit config has them, without the
    populations of H(0)'s filled bands (network.population_input) and without the gauge anchor (the
    weak plain R-space L1 beside the gauge-free terms, loss.terms.rspace_l1).
    The Gauge MAE of each evaluation group (in-distribution, new combinations, held-out elements) is a
    column when the data have groups.
(b) training throughput with the fit config and the peak resident memory.
Time to a Hamiltonian (SCF vs prediction) is benchmarks/time_to_hamiltonian.py.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from nextham.configs import load_config

from common import peak_rss_mb
from nextham.io.shards import EVALUATION_GROUPS as GROUPS


ABLATIONS = (
    ("default", "NextHAM: H(0) input, R + k-space loss, 4 members", []),
    ("embedding_only", "element embedding instead of H(0) input",
     ["model.network.use_h0_input=false", "model.network.element_embedding=true",
      "model.network.population_input=false"]),
    ("no_kspace_loss", "k-space loss off (R-space only)",
     ["loss.terms.kspace_p.weight=0.0", "loss.terms.kspace_q.weight=0.0", "loss.terms.kspace_pq.weight=0.0"]),
    ("one_network", "one network for all distances (0-6 Å)",
     ["model.members=[{name: range_0_6, distance_range: [0.0, 6.0]}]"]),
    ("no_populations", "without H(0)'s band populations", ["model.network.population_input=false"]),
    ("no_gauge_anchor", "without the gauge anchor (plain R-space L1)", ["loss.terms.rspace_l1.weight=0.0"]),
)


def _train_and_test(fit_config, overrides, epochs, root):
    from nextham.evaluate.report import run_test
    from nextham.train import build_datamodule, fit, load_module

    config = load_config(fit_config, [f"output={root}", f"trainer.max_epochs={epochs}",
                                                     "trainer.enable_progress_bar=false",
                                                     "trainer.enable_model_summary=false", *overrides])
    start = time.perf_counter()
    fit(config, resume=False)
    seconds = time.perf_counter() - start
    data = build_datamodule(config)
    module = load_module([Path(root) / "checkpoints" / "last.ckpt"])
    data.serve(module)
    report = run_test(module, data, config["callbacks"]["kspace"], Path(root) / "test", band_plots=0)
    return report, seconds


def _row(name, gauge, groups, bands, seconds):
    cells = "".join(f"{groups[g]:>12.3f}" if g in groups else f"{'—':>12}" for g in GROUPS)
    return (f"{name:<50}{gauge:>11.3f}{cells}{bands['band_mae_mev']:>10.1f}{bands['ghost_states']:>8d}"
            f"{bands['pq_norm_mev']:>9.1f}{seconds:>9}")


def accuracy(args):
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(args.config)
        applies = {"no_populations": bool(config["model"]["network"].get("population_input")),
                   "no_gauge_anchor": bool(config["loss"]["terms"].get("rspace_l1", {}).get("weight"))}
        for slug, name, overrides in ABLATIONS:
            if (args.only and slug not in args.only) or not applies.get(slug, True):
                continue
            report, seconds = _train_and_test(args.config, overrides, args.epochs, Path(scratch) / slug)
            rows.append((name, report, seconds))
            print(f"{name}: Gauge MAE {report['gauge_mae_mev']:.3f} meV ({seconds:.0f} s)", flush=True)
    first = rows[0][1]
    print(f"\nAccuracy on the test split ({first['structures']} structures, {first['pairs']} pairs, every stored pair; "
          f"bands at {first['kpoints']} k-points in all), fit config {args.config}, {args.epochs} epochs "
          f"each, {torch.get_num_threads()} threads; Gauge MAE in meV, bands in the Gauge-MAE gauge (Ĥ − μ*S)")
    header = (f"{'model':<50}{'Gauge MAE':>11}" + "".join(f"{g[:11]:>12}" for g in GROUPS)
              + f"{'band MAE':>10}{'ghosts':>8}{'PQ meV':>9}{'train s':>9}")
    print(header + "\n" + "-" * len(header))
    groups = {g: v["baseline"] for g, v in first.get("groups", {}).items()}
    print(_row("H(0) only (no correction)", first["baseline_gauge_mae_mev"], groups, first["baseline_bands"], ""))
    for name, report, seconds in rows:
        groups = {g: v["model"] for g, v in report.get("groups", {}).items()}
        print(_row(name, report["gauge_mae_mev"], groups, report, f"{seconds:.0f}"))


def throughput(args):
    from nextham.train import build_datamodule, build_module

    config = load_config(args.config)
    data = build_datamodule(config)
    module = build_module(config, data)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    structures, start = 0, None
    for epoch in range(args.epochs_throughput):
        for index, batch in enumerate(data.train_dataloader()):
            if start is None and epoch == 0 and index == 1:
                start, structures = time.perf_counter(), 0  # first step warms up
            loss, _, _ = module.loss(module(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            structures += batch.num_structures
    seconds = time.perf_counter() - start
    print(f"\nTraining throughput (fit config {args.config}, {torch.get_num_threads()} threads)")
    print(f"  {structures / seconds:.2f} structures/s ({structures} structures in {seconds:.1f} s), "
          f"peak resident memory {peak_rss_mb():.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["accuracy", "throughput"])
    parser.add_argument("--config", default="fit", help="fit config: a path or a packaged name (fit, bench)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=None, help=f"rows to run: {[a[0] for a in ABLATIONS]}")
    parser.add_argument("--epochs-throughput", type=int, default=2)
    args = parser.parse_args()
    {"accuracy": accuracy, "throughput": throughput}[args.what](args)


if __name__ == "__main__":
    main()
