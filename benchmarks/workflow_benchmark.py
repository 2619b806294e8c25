"""The user's workflow, measured on the embedded data (CPU). Prints tables; nothing is asserted.

    python benchmarks/workflow_benchmark.py accuracy [--epochs 30]   # model vs H(0) baseline vs ablation
    python benchmarks/workflow_benchmark.py throughput               # training structures/s, peak memory

(a) accuracy: the same training budget for the default model, for the default model with per-element
    embeddings added, and for the random-embedding ablation (no H(0) features, per-element embeddings
    instead); Gauge MAE and bands on the held-out test split, beside the H(0)-only baseline.
(b) training throughput with the packaged fit config and the peak resident memory.
Time to a Hamiltonian (SCF vs prediction) is benchmarks/time_to_hamiltonian.py.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from nextham.configs import CONFIG_ROOT, load_config


def _train_and_test(overrides, epochs, root):
    from nextham.evaluate.report import run_test
    from nextham.train import build_datamodule, fit, load_module

    config = load_config(CONFIG_ROOT / "fit.yaml", [f"output={root}", f"trainer.max_epochs={epochs}",
                                                     "trainer.enable_progress_bar=false",
                                                     "trainer.enable_model_summary=false", *overrides])
    start = time.perf_counter()
    fit(config, resume=False)
    seconds = time.perf_counter() - start
    data = build_datamodule(config)
    module = load_module([Path(root) / "checkpoints" / "last.ckpt"])
    report = run_test(module, data, config["callbacks"]["kspace"], Path(root) / "test", band_plots=0)
    return report, seconds


def accuracy(args):
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for slug, name, overrides in (("nextham", "NextHAM (H(0) input)", []),
                                      ("h0_and_embedding", "H(0) input + element embedding",
                                       ["model.network.element_embedding=true"]),
                                      ("ablation", "ablation: element embedding, no H(0) input",
                                       ["model.network.use_h0_input=false", "model.network.element_embedding=true"])):
            report, seconds = _train_and_test(overrides, args.epochs, Path(scratch) / slug)
            rows.append((name, report, seconds))
    print(f"\nAccuracy on the held-out test split ({rows[0][1]['structures']} structures, {rows[0][1]['kpoints']} "
          f"k-points), {args.epochs} epochs each; bands in the Gauge-MAE gauge (Ĥ − μ*S)")
    header = f"{'model':<46}{'Gauge MAE meV':>15}{'band MAE meV':>14}{'ghosts':>8}{'train s':>9}"
    print(header + "\n" + "-" * len(header))
    baseline = rows[0][1]["baseline_bands"]
    print(f"{'H(0) only (no correction)':<46}{rows[0][1]['baseline_gauge_mae_mev']:>15.3f}"
          f"{baseline['band_mae_mev']:>14.1f}{baseline['ghost_states']:>8d}{'':>9}")
    for name, report, seconds in rows:
        print(f"{name:<46}{report['gauge_mae_mev']:>15.3f}{report['band_mae_mev']:>14.1f}"
              f"{report['ghost_states']:>8d}{seconds:>9.0f}")


def throughput(args):
    from nextham.train import build_datamodule, build_module

    config = load_config(CONFIG_ROOT / "fit.yaml")
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
    print(f"\nTraining throughput (packaged fit config, {torch.get_num_threads()} threads)")
    print(f"  {structures / seconds:.2f} structures/s ({structures} structures in {seconds:.1f} s), "
          f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["accuracy", "throughput"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--epochs-throughput", type=int, default=2)
    args = parser.parse_args()
    {"accuracy": accuracy, "throughput": throughput}[args.what](args)


if __name__ == "__main__":
    main()
