"""H(0) and S for a new structure, old path vs new: the k-space path (fixed-density Fock build on the
dense k-mesh + Fourier transform) against the real-space builder, for supercells of Si and of SiC,
side by side in one run on the embedded recipe's engine settings. Prints a table and writes a
log-log PNG of time (and time per atom) vs atoms.

    python benchmarks/h0_scaling.py [--sizes 2 8 64 216 512 1000] [--old-max-atoms 8] [--threads 2]

Every measurement runs in a fresh process, one at a time (peak resident memory is that build's
alone), with --threads OpenMP/torch threads; --device cuda runs the builder's grid work on a GPU.
Sizes: 2 is the primitive cell, multiples of 8 are n×n×n conventional cubic cells.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import SI_SIC, in_fresh_process, machine, peak_rss_mb

SYSTEMS = SI_SIC


def structure(system: str, atoms: int):
    from ase.build import bulk

    formula, prototype, a = SYSTEMS[system]
    if atoms == 2:
        return bulk(formula, prototype, a=a)
    n = round((atoms // 8) ** (1 / 3))
    if 8 * n ** 3 != atoms:
        raise SystemExit(f"--sizes: {atoms} is neither 2 nor 8·n³")
    return bulk(formula, prototype, a=a, cubic=True).repeat((n, n, n))


def build(system, atoms, builder, device):
    from nextham.configs import load_config
    from nextham.dft.engine_rules import resolve_engine_settings
    from nextham.dft.engine_settings import PySCFSettings
    from nextham.dft.pyscf_engine import zeroth_step_blocks
    from nextham.structures import structure_spec

    cell = structure(system, atoms)
    engine = dict(resolve_engine_settings(load_config("data/embedded.yaml")["engine"], cell.get_chemical_symbols()),
                  builder=builder, device=device)
    start = time.perf_counter()
    record, _ = zeroth_step_blocks(structure_spec(cell, f"{system}-{atoms}"), PySCFSettings.from_dict(engine))
    seconds = time.perf_counter() - start
    return seconds, peak_rss_mb(), record.num_edges, \
        record.metadata.get("timings", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 8, 64, 216, 512, 1000])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--max-atoms", type=int, nargs="+", default=[1000, 216],
                        help="largest cell per system (in --systems order) for the new path")
    parser.add_argument("--old-max-atoms", type=int, default=8, help="larger cells skip the k-space path")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--png", default="benchmarks/results/h0_scaling.png")
    args = parser.parse_args()

    rows = []
    header = (f"{'structure':<10}{'atoms':>6}{'pairs':>8}{'k-space s':>10}{'k-space MB':>11}{'real-space s':>13}"
              f"{'s/atom':>8}{'real MB':>9}{'speed-up':>9}")
    print(f"{machine()}; threads {args.threads}, device {args.device}, embedded recipe (ke_cutoff 80 Ha, pairs to 10.6 Å)\n"
          f"{header}\n" + "-" * len(header), flush=True)
    limits = dict(zip(args.systems, args.max_atoms + [max(args.sizes)] * len(args.systems)))
    for system in args.systems:
        for atoms in [n for n in args.sizes if n <= limits[system]]:
            new_s, new_mb, pairs, _ = in_fresh_process(args.threads, build, system, atoms, "realspace", args.device)
            old_s = old_mb = float("nan")
            if atoms <= args.old_max_atoms:
                old_s, old_mb, _, _ = in_fresh_process(args.threads, build, system, atoms, "kspace", "cpu")
            rows.append({"system": system, "atoms": atoms, "new_s": new_s, "old_s": old_s})
            print(f"{system + '-' + str(atoms):<10}{atoms:>6}{pairs:>8}{old_s:>10.1f}{old_mb:>11.0f}{new_s:>13.1f}"
                  f"{new_s / atoms:>8.3f}{new_mb:>9.0f}{old_s / new_s:>9.1f}", flush=True)
    plot(rows, Path(args.png))
    print(f"log-log plot: {args.png}")


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    for system, colour in zip(SYSTEMS, ("tab:blue", "tab:red")):
        mine = [r for r in rows if r["system"] == system]
        if not mine:
            continue
        atoms = np.array([r["atoms"] for r in mine])
        new = np.array([r["new_s"] for r in mine])
        left.plot(atoms, new, "o-", color=colour, label=f"{system}: real space")
        right.plot(atoms, new / atoms, "o-", color=colour, label=f"{system}: real space")
        old = [(r["atoms"], r["old_s"]) for r in mine if np.isfinite(r["old_s"])]
        if old:
            left.plot(*zip(*old), "s--", color=colour, label=f"{system}: k-space + FT")
            right.plot([a for a, _ in old], [s / a for a, s in old], "s--", color=colour, label=f"{system}: k-space + FT")
    for axis, label in ((left, "wall time of H(0) + S (s)"), (right, "seconds per atom")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("atoms in the cell")
        axis.set_ylabel(label)
        axis.grid(True, which="both", color="0.9")
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


if __name__ == "__main__":
    main()
