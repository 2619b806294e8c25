"""Model cost on CPU for the default config (configs/model/nextham.yaml) on the embedded dataset.

    python benchmarks/model_benchmark.py [--structures 4] [--threads 2]

Prints parameters per member and for the ensemble, forward and forward+backward seconds per
structure (one member, and all four), and the peak resident memory of this process. Nothing asserted.
"""
from __future__ import annotations

import argparse
import time

import torch

from common import peak_rss_mb


def main():
    from nextham.configs import CONFIG_ROOT, load_config
    from nextham.data.datamodule import HamiltonianDataModule
    from nextham.nn.ensemble import NextHAMEnsemble
    from nextham.nn.network import count_parameters

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", type=int, default=4, help="structures timed (one per batch)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(getattr(torch, args.dtype))

    data = HamiltonianDataModule(edge_budget=1, dtype=args.dtype, shuffle=False)  # one structure per batch
    config = load_config(CONFIG_ROOT / "model" / "nextham.yaml")
    torch.manual_seed(0)
    ensemble = NextHAMEnsemble.from_config(config, data.layout.slot_ls, data.spinful)
    batches = []
    for batch in data.train_dataloader():
        batches.append(batch)
        if len(batches) == args.structures:
            break
    rss_before = peak_rss_mb()

    def timed(module, backward):
        seconds = []
        for batch in batches:
            start = time.perf_counter()
            output = module(batch)
            if backward:
                output["delta_hamiltonian"].abs().pow(2).sum().backward()
            seconds.append(time.perf_counter() - start)
        module.zero_grad(set_to_none=True)
        return sum(seconds[1:]) / max(len(seconds) - 1, 1)  # first call warms up

    member = ensemble.members[2]
    rows = [
        ("one member (range_2_4), forward", count_parameters(member), timed(member, False)),
        ("one member, forward + backward", count_parameters(member), timed(member, True)),
        ("ensemble of 4, forward", count_parameters(ensemble), timed(ensemble, False)),
        ("ensemble of 4, forward + backward", count_parameters(ensemble), timed(ensemble, True)),
    ]
    edges = sum(int(b.num_edges.sum()) for b in batches) / len(batches)
    print(f"layout {data.layout.describe()}, spinful={data.spinful}, hidden {member.network.hidden}, "
          f"{args.dtype}, {args.threads} threads, {edges:.0f} edges per structure (graph cutoff 8 Å)")
    header = f"{'what':<38}{'parameters':>12}{'s/structure':>13}"
    print(header + "\n" + "-" * len(header))
    for name, parameters, seconds in rows:
        print(f"{name:<38}{parameters:>12,}{seconds:>13.3f}")
    print(f"peak resident memory: {peak_rss_mb():.0f} MB (before timing: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
