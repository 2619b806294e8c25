"""How much a looser band check would shorten a dataset's stored pair lists: for each structure named,
the shortest pair cutoff whose bands still match the SCF's within each tolerance (the engine's
``adaptive_pair_cutoff`` search, on the stored record), and the share of its pairs that would remain.
Also the shard bytes of each storage layout (format 1: blocks compressed; format 2: every array
compressed, H(T) as its exact ΔH) for the shards named with ``--shards``.

    OMP_NUM_THREADS=1 python benchmarks/pair_range_size.py --dataset datasets/bench2 \\
        --structures Cu-fcc-thermal-000 PdCu-l12-000 BaTiO-cubic_perovskite-000 random-GaAs-000 \\
                     TiO-rutile-001 ZnO-wurtzite-000 --shards shard-00000.h5 shard-00005.h5 shard-00029.h5
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import set_threads

TOLERANCES_HARTREE = (1e-5, 3e-5, 1e-4)


def pair_table(dataset, labels):
    from nextham.conventions import units
    from nextham.dft.blocks import shortest_valid_cutoff
    from nextham.record import check_eigenvalues

    header = "| structure | stored range (Å) | pairs | band error (Ha) | " + " | ".join(
        f"{t:.0e} Ha: range, pairs kept" for t in TOLERANCES_HARTREE) + " |"
    print(header)
    print("|---" * (4 + len(TOLERANCES_HARTREE)) + "|")
    for label in labels:
        record = dataset.read(label)
        distances = record.edge_distances()
        cells = []
        for tolerance in TOLERANCES_HARTREE:
            kept = shortest_valid_cutoff(record, 6.0, float(distances.max()), tolerance * units.HARTREE_TO_EV)
            kept_distances = kept.edge_distances()
            cells.append(f"{kept_distances.max():.2f}, {len(kept_distances) / len(distances):.0%}")
        error = check_eigenvalues(record) / units.HARTREE_TO_EV
        print(f"| {label} | {distances.max():.2f} | {len(distances)} | {error:.1e} | " + " | ".join(cells) + " |")


def layout_table(root: Path, shards):
    from nextham.io.compact import compact_dataset
    from nextham.io.shards import read_manifest, write_manifest

    manifest = read_manifest(root)
    manifest["shards"] = [entry for entry in manifest["shards"] if entry["file"] in shards]
    with tempfile.TemporaryDirectory() as folder:
        for name in shards:
            shutil.copy(root / name, Path(folder) / name)
        write_manifest(folder, manifest)
        sizes = {name: (Path(folder) / name).stat().st_size for name in shards}
        compact_dataset(folder, progress=False)
        print("\n| shard | structures | format 1 (MB) | format 2 (MB) | format 2 / 1 |\n|---|---:|---:|---:|---:|")
        for entry in manifest["shards"]:
            name = entry["file"]
            after = (Path(folder) / name).stat().st_size
            print(f"| {name} | {len(entry['structures'])} | {sizes[name] / 1e6:.2f} | {after / 1e6:.2f} | "
                  f"{after / sizes[name]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="datasets/bench2")
    parser.add_argument("--structures", nargs="*", default=[])
    parser.add_argument("--shards", nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    from nextham.io import ShardedDataset

    if args.structures:
        pair_table(ShardedDataset(args.dataset), args.structures)
    if args.shards:
        layout_table(Path(args.dataset), args.shards)


if __name__ == "__main__":
    main()
