"""Data-layer speed: DFT generation seconds per structure and shard read throughput.

    python benchmarks/data_benchmark.py                  # recorded generation timings + read throughput
    python benchmarks/data_benchmark.py --live 2         # also time 2 fresh PySCF structures here
    python benchmarks/data_benchmark.py --dataset DIR    # another dataset folder

Prints tables; nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict



def generation_table(dataset):
    rows = defaultdict(list)
    for record in dataset:
        key = (record.metadata.get("prototype", "?"), "SOC" if record.spinful else "-")
        rows[key].append(record.metadata.get("timings", {}))
    print("\nGeneration (recorded when the dataset was made; seconds per structure, 1 OpenMP thread)")
    header = f"{'prototype':<18}{'SOC':>5}{'n':>4}{'H(0) dens':>11}{'SCF':>8}{'dense k':>9}{'total':>8}"
    print(header + "\n" + "-" * len(header))
    for (prototype, soc), timings in sorted(rows.items()):
        mean = lambda key: statistics.mean(t.get(key, float("nan")) for t in timings)
        print(f"{prototype:<18}{soc:>5}{len(timings):>4}{mean('h0_density_s'):>11.2f}{mean('scf_s'):>8.1f}"
              f"{mean('dense_k_s'):>9.1f}{mean('total_s'):>8.1f}")


def live_generation(count):
    from nextham.dft.generate import _compute_with_pyscf, engine_settings_for
    from nextham.dft.prototypes import expand_entry

    specs = expand_entry({"prototype": "diamond", "elements": ["Si", "Si"], "parameters": {"a": 5.431},
                          "variants": count, "strain": 0.03, "rattle": 0.04})
    print(f"\nLive generation on this machine (Si diamond, embedded recipe, {count} structures)")
    from nextham.configs import CONFIG_ROOT, load_config

    settings = load_config(CONFIG_ROOT / "data" / "embedded.yaml")["engine"]
    for spec in specs:
        start = time.perf_counter()
        record, _ = _compute_with_pyscf(spec, engine_settings_for(spec, settings))
        print(f"  {spec.label:<22}{time.perf_counter() - start:8.1f} s  ({record.num_edges} blocks)")


def read_throughput(dataset, repeats=3):
    from nextham.data.datamodule import HamiltonianDataModule

    readers = dataset.shards
    total_bytes = sum(p.stat().st_size for p in dataset.root.glob("*.h5"))
    print("\nShard reads (warm page cache)")
    header = f"{'path':<42}{'structures/s':>14}{'MB/s':>8}"
    print(header + "\n" + "-" * len(header))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = sum(1 for reader in readers for _ in reader)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"{'ShardReader.read (records)':<42}{count / best:>14.0f}{total_bytes / best / 1e6:>8.1f}")
    for workers in (0, 2):
        module = HamiltonianDataModule(root=str(dataset.root), edge_budget=4000, num_workers=workers, shuffle=False)
        loaders = [module.train_dataloader(), module.val_dataloader(), module.test_dataloader()]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            structures = sum(batch.num_structures for loader in loaders for batch in loader)
            times.append(time.perf_counter() - start)
        best = min(times)
        print(f"{f'DataLoader + padded collate, workers={workers}':<42}{structures / best:>14.0f}"
              f"{total_bytes / best / 1e6:>8.1f}")


def main():
    from nextham.assets import embedded_dataset_path
    from nextham.io import ShardedDataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--live", type=int, default=0, help="time this many fresh PySCF structures")
    args = parser.parse_args()
    dataset = ShardedDataset(args.dataset or embedded_dataset_path())
    print(f"dataset {dataset.root}: {len(dataset)} structures")
    generation_table(dataset)
    if args.live:
        live_generation(args.live)
    read_throughput(dataset)


if __name__ == "__main__":
    main()
