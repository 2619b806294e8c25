"""The network side of large cells, without DFT: supercells tiled exactly from an embedded structure's
H(0) and S (HamiltonianRecord.supercell), past 1,000 atoms; wall time and peak memory of
`Predictor.correct` (collation of the graph's pairs, the ensemble, Ĥ over every pair, E_F and the gap
by the --solver, dense or sparse), in one piece and in pieces of --chunk-atoms atoms. Each measurement
runs in a fresh process.

    python benchmarks/inference_scaling.py --ckpt runs/embedded [--repeats 1 2 4 6 8] [--chunk-atoms 128]
    python benchmarks/inference_scaling.py --ckpt runs/embedded --repeats 4 8 12 --solver sparse
"""
from __future__ import annotations

import argparse
import time

from common import in_fresh_process, machine, peak_rss_mb


def _measure(checkpoint, label, repeats, chunk_atoms, solver):
    from nextham.assets import embedded_dataset_path
    from nextham.io import ShardedDataset
    from nextham.predict import Predictor

    record = ShardedDataset(embedded_dataset_path()).read(label).supercell((repeats,) * 3)
    predictor = Predictor(checkpoint, chunk_atoms=chunk_atoms, solver=solver)
    before = peak_rss_mb()
    start = time.perf_counter()
    result = predictor.correct(record)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    graph = sum(1 for owner in result.record.metadata["member_of_edge"] if owner >= 0)
    return {"atoms": record.num_atoms, "pairs": record.num_edges, "graph": graph, "seconds": seconds,
            "timings": result.timings, "peak_mb": peak, "before_mb": before, "solver": result.solver,
            "gap": result.band_gap}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="runs/embedded")
    parser.add_argument("--structure", default="SiC-zincblende-002", help="a 2-atom structure of the embedded set")
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    parser.add_argument("--chunk-atoms", type=int, default=128)
    parser.add_argument("--whole-max-atoms", type=int, default=500, help="larger cells run in pieces only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--solver", choices=("dense", "sparse", "auto"), default="auto")
    args = parser.parse_args()
    header = (f"{'atoms':>6}{'pairs':>9}{'in graph':>10}{'pieces':>8}{'total s':>9}{'graph s':>9}{'network s':>10}"
              f"{'E_F s':>7}{'solver':>8}{'gap eV':>8}{'peak MB':>9}{'(loaded)':>9}")
    print(f"{machine()}; {args.structure} tiled, threads {args.threads}, checkpoint {args.ckpt}\n{header}\n"
          + "-" * len(header), flush=True)
    for repeats in args.repeats:
        for chunk in (None, args.chunk_atoms):
            atoms = 2 * repeats ** 3
            if (chunk is not None and chunk >= atoms) or (chunk is None and atoms > args.whole_max_atoms):
                continue
            row = in_fresh_process(args.threads, _measure, args.ckpt, args.structure, repeats, chunk, args.solver)
            t = row["timings"]
            print(f"{row['atoms']:>6}{row['pairs']:>9}{row['graph']:>10}{'whole' if chunk is None else chunk:>8}"
                  f"{row['seconds']:>9.1f}{t['graph_s']:>9.1f}{t['inference_s']:>10.1f}{t['eigensolver_s']:>7.1f}"
                  f"{row['solver']:>8}{row['gap']:>8.3f}{row['peak_mb']:>9.0f}{row['before_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
