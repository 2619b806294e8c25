"""The real-space builder on every spinless structure of the embedded dataset: the whole generation
recipe (SCF, then H(0), H(T), S in real space, adaptive cutoff, band check) against the blocks the
k-space path stored, and the recorded generation time against the new one.

    python benchmarks/realspace_accuracy.py [LABEL ...]      (2 threads; about 7 minutes for all 37)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dft" / "realspace"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*")
    args = parser.parse_args()
    import torch

    from nextham.conventions import units
    from nextham.assets import embedded_dataset_path
    from nextham.dft.pyscf_engine import compute_structure
    from nextham.io.shards import ShardedDataset, read_manifest
    from test_builder import _recipe, max_difference_mev  # the tests' own comparison

    torch.set_num_threads(2)
    dataset = ShardedDataset(embedded_dataset_path())
    provenance = read_manifest(embedded_dataset_path())["provenance"]
    labels = args.labels or [label for label in dataset.labels if not dataset.read(label).spinful]
    header = f"{'structure':<24}{'H(0) meV':>10}{'H(T) meV':>10}{'S':>10}{'band check meV':>16}{'old s':>8}{'new s':>8}"
    print(f"max |Δ| against the stored k-space blocks (float32)\n{header}\n" + "-" * len(header), flush=True)
    rows = []
    for label in labels:
        reference = dataset.read(label)
        spec, settings = _recipe(reference, provenance)
        start = time.perf_counter()
        record, _ = compute_structure(spec, settings)
        seconds = time.perf_counter() - start
        errors = max_difference_mev(record, reference, ("hamiltonian_0", "hamiltonian", "overlap"))
        old = reference.metadata["timings"]["total_s"]
        rows.append((errors, record.metadata["eigenvalue_check_ev"] * 1000, old, seconds))
        print(f"{label:<24}{errors['hamiltonian_0']:>10.1e}{errors['hamiltonian']:>10.1e}{errors['overlap'] / 1000:>10.1e}"
              f"{rows[-1][1]:>16.3f}{old:>8.1f}{seconds:>8.1f}", flush=True)
    ratios = np.array([old / new for *_, old, new in rows])
    worst = {kind: max(r[0][kind] for r in rows) for kind in ("hamiltonian_0", "hamiltonian", "overlap")}
    print(f"\n{len(rows)} structures: max |Δ| H(0) {worst['hamiltonian_0']:.1e} meV, H(T) {worst['hamiltonian']:.1e} meV, "
          f"S {worst['overlap'] / 1000:.1e}; band check ≤ {max(r[1] for r in rows):.3f} meV "
          f"(tolerance {1e-5 * units.HARTREE_TO_EV * 1000:.3f}); generation old/new median {np.median(ratios):.1f}×, "
          f"min {ratios.min():.1f}× (median {np.median([r[2] for r in rows]):.1f} s → {np.median([r[3] for r in rows]):.1f} s)")


if __name__ == "__main__":
    main()
