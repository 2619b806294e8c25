"""H(0) and S for a new structure: the k-space path (fixed-density Fock build on the dense k-mesh +
Fourier transform), the real-space builder on the engine's one mesh, and the real-space builder with
the diffuse products on a half mesh (the default), for supercells of Si and of SiC, side by side in
one run on the embedded recipe's engine settings, with the default build's time per stage. Prints a
table and writes a log-log PNG of time (and time per atom) vs atoms.

    python benchmarks/h0_scaling.py [--sizes 2 8 64 216 512 1000] [--old-max-atoms 8] [--threads 2]

Every measurement runs in a fresh process, one at a time (peak resident memory is that build's
alone), with --threads OpenMP/torch threads; --device cuda runs the builder's grid work on a GPU.
Sizes: 2 is the primitive cell, multiples of 8 are n×n×n conventional cubic cells. Stages: the
analytic S, T and pseudopotential integrals; ρ(0) of the free atoms; the potential (Hartree, xc,
pseudo-charges) on the mesh; ⟨μ|V|ν⟩ over the mesh boxes.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

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


def build(system, atoms, builder, device, coarse_tolerance=None):
    from nextham.configs import load_config
    from nextham.dft.engine_rules import resolve_engine_settings
    from nextham.dft.engine_settings import PySCFSettings
    from nextham.dft.pyscf_engine import zeroth_step_blocks
    from nextham.structures import structure_spec

    cell = structure(system, atoms)
    engine = dict(resolve_engine_settings(load_config("data/embedded.yaml")["engine"], cell.get_chemical_symbols()),
                  builder=builder, device=device)
    if coarse_tolerance is not None:
        engine["realspace_coarse_tolerance"] = coarse_tolerance
    start = time.perf_counter()
    record, _ = zeroth_step_blocks(structure_spec(cell, f"{system}-{atoms}"), PySCFSettings.from_dict(engine))
    seconds = time.perf_counter() - start
    # H(0) in eV, flat over the pairs (the same pair order for every build of a cell)
    return seconds, peak_rss_mb(), record.num_edges, record.metadata.get("timings", {}), \
        np.asarray(record.hamiltonian_0)


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
    header = (f"{'structure':<10}{'atoms':>6}{'pairs':>8}{'k-space s':>10}{'one mesh s':>11}{'two meshes s':>13}"
              f"{'s/atom':>8}{'MB':>7}{'speed-up':>9}{'|dH0| meV':>10}{'analytic':>9}{'rho(0)':>7}{'V':>6}{'<m|V|n>':>8}")
    print(f"{machine()}; threads {args.threads}, device {args.device}, embedded recipe (ke_cutoff 80 Ha, pairs to 10.6 Å)\n"
          f"speed-up: one mesh / two meshes; |dH0|: their largest H(0) difference; the last four columns: seconds per "
          f"stage of the two-mesh build\n"
          f"{header}\n" + "-" * len(header), flush=True)
    limits = dict(zip(args.systems, args.max_atoms + [max(args.sizes)] * len(args.systems)))
    for system in args.systems:
        for atoms in [n for n in args.sizes if n <= limits[system]]:
            one_s, _, _, _, one_h = in_fresh_process(args.threads, build, system, atoms, "realspace", args.device, 0.0)
            new_s, new_mb, pairs, stages, new_h = in_fresh_process(args.threads, build, system, atoms, "realspace",
                                                                   args.device)
            difference_mev = 1000 * float(np.abs(new_h - one_h).max())
            old_s = float("nan")
            if atoms <= args.old_max_atoms:
                old_s, _, _, _, _ = in_fresh_process(args.threads, build, system, atoms, "kspace", "cpu")
            rows.append({"system": system, "atoms": atoms, "new_s": new_s, "one_s": one_s, "old_s": old_s})
            stage = [stages.get(key, float("nan")) for key in ("analytic_s", "atomic_density_s", "potential_s",
                                                                "potential_matrix_s")]
            print(f"{system + '-' + str(atoms):<10}{atoms:>6}{pairs:>8}{old_s:>10.1f}{one_s:>11.1f}{new_s:>13.1f}"
                  f"{new_s / atoms:>8.3f}{new_mb:>7.0f}{one_s / new_s:>9.2f}{difference_mev:>10.1e}{stage[0]:>9.1f}{stage[1]:>7.1f}"
                  f"{stage[2]:>6.1f}{stage[3]:>8.1f}", flush=True)
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
        for key, style, name in (("new_s", "o-", "two meshes"), ("one_s", "^:", "one mesh"), ("old_s", "s--", "k-space + FT")):
            points = [(r["atoms"], r[key]) for r in mine if np.isfinite(r[key])]
            if points:
                left.plot(*zip(*points), style, color=colour, label=f"{system}: {name}")
                right.plot([a for a, _ in points], [t / a for a, t in points], style, color=colour,
                           label=f"{system}: {name}")
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
