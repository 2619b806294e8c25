"""Do the distance-range members agree on a structure's energy level? For saved test predictions, the
gauge μ_m = Re⟨Ĥ − H, S⟩ / ‖S‖² fitted on each member's range alone (on-site, 1–2, 2–4, 4–6 Å), per
structure, and the spread max μ_m − min μ_m over the members that have pairs there. The Gauge MAE
removes one μ per structure; whatever the members disagree on is left as error ∝ S on the bonds.

The gauge-free loss terms leave μ free per structure, so each member settles on its own level and,
on known compounds, they agree (they were trained together on them); on an unseen compound they need
not. The gauge anchor of the bench recipe (loss.terms.rspace_l1) holds them all near μ = 0.

    python benchmarks/member_gauges.py benchmarks/results/bench_test/predictions      # the shipped model
    python benchmarks/member_gauges.py runs/bench/test/predictions --config bench --data datasets/bench
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from nextham.configs import load_config
from nextham.io import ShardedDataset
from nextham.kspace import gauge_shift
from nextham.nn.ensemble import range_mask
from nextham.record import HamiltonianRecord

from common import EV_TO_MEV



def member_gauges(truth, predicted, ranges):
    """μ_m (meV) per member range of one structure; NaN where the range holds no pair."""
    lengths = truth.edge_distances()
    blocks = {"predicted": predicted.blocks("hamiltonian"), "target": truth.blocks("hamiltonian"),
              "overlap": truth.spinor_overlap_blocks()}
    values = []
    for distance_range in ranges:
        edges = np.flatnonzero(range_mask(lengths, distance_range))
        if not len(edges):
            values.append(float("nan"))
            continue
        pick = lambda kind: torch.as_tensor(HamiltonianRecord.flatten_blocks([blocks[kind][e] for e in edges]))
        values.append(EV_TO_MEV * float(gauge_shift(pick("predicted"), pick("target"), pick("overlap").double())))
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", help="a predictions folder written by nextham test (shards + manifest)")
    parser.add_argument("--data", default="datasets/bench", help="the dataset holding H(T)")
    parser.add_argument("--config", default="bench", help="fit config whose model members give the ranges")
    args = parser.parse_args()
    ranges = [tuple(m["distance_range"]) for m in load_config(args.config)["model"]["members"]]
    data, predictions = ShardedDataset(args.data), ShardedDataset(args.predictions)
    if data.manifest["units"]["energy"] != "eV":
        raise SystemExit(f"{args.data}: energies in {data.manifest['units']['energy']}, this script reads eV")
    by_compound = defaultdict(list)
    print(f"{'structure':<36}{'group':<18}" + "".join(f"{f'μ {lo:g}-{hi:g} Å':>12}" for lo, hi in ranges)
          + f"{'spread':>10}")
    for label in predictions.labels:
        gauges = member_gauges(data.read(label), predictions.read(label), ranges)
        spread = np.nanmax(gauges) - np.nanmin(gauges)
        by_compound[(data.group_of(label), label.rsplit("-", 1)[0])].append((spread, np.nanmean(np.abs(gauges))))
        print(f"{label:<36}{data.group_of(label):<18}" + "".join(f"{g:>12.0f}" for g in gauges) + f"{spread:>10.0f}")
    print("\nPer group, means over structures (meV): the spread of the members' μ and the mean |μ_m| (the level)")
    groups = defaultdict(list)
    for (group, _), values in by_compound.items():
        groups[group].extend(values)
    for group, values in sorted(groups.items()):
        spread, level = np.mean(values, axis=0)
        print(f"  {group:<20}spread {spread:6.0f}   |μ| {level:6.0f}   ({len(values)} structures)")
    print("Per compound outside the training distribution:")
    for (group, compound), values in sorted(by_compound.items()):
        if group != "in_distribution":
            spread, level = np.mean(values, axis=0)
            print(f"  {group:<20}{compound:<28}spread {spread:6.0f}   |μ| {level:6.0f}")


if __name__ == "__main__":
    main()
