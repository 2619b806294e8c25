"""The populations a large cell's prediction reads, without its eigenvectors: divide and conquer (each
atom's share of the filled bands of H(0) from the cluster within a buffer, one Fermi level) against the
dense path (eigensolves on a k-mesh with N_i·|a_i| ≥ 10 Å, what the shipped model was trained on, or
30 Å), both against the populations of a
converged k-mesh (60 Å), on supercells of real DFT records: SiC and Si (embedded set), GaAs and fcc Al,
a metal (datasets/bench2). Columns: time, the largest population error (electrons per orbital) and
what it does to the shipped model's Ĥ (largest |ΔĤ| over all pairs, meV).

    python benchmarks/local_populations.py [--repeat 3] [--buffers 6 8] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import machine, set_threads

STRUCTURES = (("embedded", "SiC-zincblende-000"), ("embedded", "Si-diamond-000"),
              ("datasets/bench2", "GaAs-zincblende-000"), ("datasets/bench2", "Al-fcc-thermal-000"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="n×n×n supercells of the primitive records")
    parser.add_argument("--buffers", type=float, nargs="+", default=[6.0, 8.0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    from nextham.assets import embedded_dataset_path
    from nextham.io.shards import ShardedDataset
    from nextham.kspace import populations
    from nextham.predict import Predictor
    from nextham.predict import predictor as predictor_module

    predictor = Predictor()
    header = f"{'structure':<24}{'atoms':>6}{'rows':>6}  {'populations':<22}{'s':>7}{'max |dq| e':>12}{'max |dH| meV':>14}"
    print(f"{machine()}; threads {args.threads}; shipped model; reference: populations on a 60 Å k-mesh\n{header}\n"
          + "-" * len(header), flush=True)
    for root, label in STRUCTURES:
        dataset = ShardedDataset(embedded_dataset_path() if root == "embedded" else root)
        primitive = dataset.read(label)
        record = primitive.supercell((args.repeat,) * 3)
        reference_q = np.tile(populations.mulliken_populations(primitive, length_angstrom=60.0), args.repeat ** 3)
        methods = [(f"dense, {L:g} Å k-mesh", lambda r, L=L: populations.mulliken_populations(r, length_angstrom=L))
                   for L in (10.0, 30.0)]
        methods += [(f"local, {b:g} Å buffer", lambda r, b=b: populations.local_populations(r, buffer_angstrom=b))
                    for b in args.buffers]
        reference_h = _predicted(predictor, predictor_module, record, lambda r: reference_q)
        for name, method in methods:
            start = time.perf_counter()
            q = method(record)
            seconds = time.perf_counter() - start
            h = _predicted(predictor, predictor_module, record, lambda r, q=q: q)
            print(f"{label:<24}{record.num_atoms:>6}{record.matrix_rows:>6}  {name:<22}{seconds:>7.2f}"
                  f"{np.abs(q - reference_q).max():>12.1e}{1000 * np.abs(h - reference_h).max():>14.3f}", flush=True)


def _predicted(predictor, module, record, populations_of):
    """The shipped model's Ĥ (eV, flat over the pairs) of ``record`` reading the given populations."""
    original = module.filled_band_populations
    module.filled_band_populations = lambda r, *args, **kwargs: populations_of(r)
    try:
        return np.asarray(predictor.correct(record).record.hamiltonian)
    finally:
        module.filled_band_populations = original


if __name__ == "__main__":
    main()
