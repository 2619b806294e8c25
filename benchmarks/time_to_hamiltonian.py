"""Time to a Hamiltonian: the full DFT run that produces H(T) vs nextham's H(0) + S + inference, for
supercells of Si and of SiC, side by side in one run, on the same engine settings (those the
checkpoint's training data were made with). Prints a table and writes a log-log PNG of time vs atoms.

    python benchmarks/time_to_hamiltonian.py --ckpt runs/embedded [--repeats 1 2 3 4] [--scf-max-atoms 54]
    python benchmarks/time_to_hamiltonian.py --ckpt runs/embedded --systems Si --repeats 8 12 17 --solver sparse
    python benchmarks/time_to_hamiltonian.py --ckpt nextham/assets/bench.ckpt --systems Si --repeats 17 \
        --scf-max-atoms 0 --stages     # 9,826 atoms end to end, each stage's time and peak memory

Every measurement runs in a fresh process (its peak resident memory is that stage's alone), one at a
time, with --threads OpenMP/torch threads. (a) is the whole recipe of `nextham data generate`: SCF,
then H(T) and H(0) built in real space (``--builder kspace``: the older dense-k evaluation and Fourier
transform), validated against the SCF's own bands; its SCF part alone is shown too. (b) is `nextham predict`: H(0) and S, graph,
inference, E_F and gap (by --solver: dense, sparse or auto), then the DOS. The Gauge MAE of Ĥ is against
that H(T), over every pair H(T) stores.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import SI_SIC, MemorySampler, in_fresh_process, machine, peak_rss_mb

SYSTEMS = SI_SIC


def _scf(atoms, label, settings):
    from nextham.dft.engine_settings import PySCFSettings
    from nextham.dft.pyscf_engine import compute_structure
    from nextham.structures import structure_spec

    start = time.perf_counter()
    record, _ = compute_structure(structure_spec(atoms, label), PySCFSettings.from_dict(settings))
    return time.perf_counter() - start, peak_rss_mb(), record


# the Predictor's stages, in the order they run (their durations are in result.timings)
STAGES = (("h0_and_overlap_s", "H0+S"), ("graph_s", "graph+populations"), ("inference_s", "network"),
          ("eigensolver_s", "E_F+gap"))


def _predict(checkpoint, atoms, label, builder, solver):
    from nextham.predict import Predictor

    predictor = Predictor(checkpoint, solver=solver)
    predictor.engine_settings = {**predictor.engine_settings, "builder": builder}
    sampler = MemorySampler()
    start = time.perf_counter()
    result = predictor(atoms, label)
    seconds = time.perf_counter() - start
    dos_start = time.perf_counter()
    result.dos(mesh=[1, 1, 1] if result.solver == "sparse" else None)
    dos_end = time.perf_counter()
    timings = {**result.timings, "dos_s": dos_end - dos_start, "solver": result.solver}
    # each stage's window from the cumulative durations; its peak resident memory from the samples
    peaks, clock = {}, start
    for key, name in STAGES:
        peaks[name] = sampler.peak_mb(clock, clock + timings[key])
        clock += timings[key]
    peaks["DOS"] = sampler.peak_mb(dos_start, dos_end)
    sampler.stop()
    timings["stage_peaks_mb"] = peaks
    timings["fermi"] = {key: result.occupation.get(key) for key in ("fermi_energy", "band_gap", "metallic",
                                                                    "fermi_method", "gap_method")}
    return seconds, peak_rss_mb(), result.record, timings


def gauge_mae_mev(predicted, truth) -> float:
    """Gauge MAE (meV) of the predicted Ĥ against H(T), over every pair H(T) stores."""
    from nextham.kspace import gauge_mae

    lookup = predicted.edge_lookup()
    blocks = predicted.blocks("hamiltonian")
    mine = [blocks[lookup[key]] for key in truth.edge_lookup()]
    flat = lambda blocks: np.concatenate([np.asarray(b, dtype=np.float64).ravel() for b in blocks])
    return 1000.0 * gauge_mae(flat(mine), flat(truth.blocks("hamiltonian")), flat(truth.blocks("overlap")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="runs/embedded", help="checkpoint file or run directory")
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 2, 3], help="supercells n×n×n of the primitive cell")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--scf-max-atoms", type=int, default=54, help="larger cells are predicted only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--builder", default="realspace", choices=["realspace", "kspace"],
                        help="how both sides build H(0), H(T), S")
    parser.add_argument("--solver", default="auto", choices=["dense", "sparse", "auto"],
                        help="how the prediction's E_F, gap and DOS are solved")
    parser.add_argument("--stages", action="store_true",
                        help="a line per cell with each stage's time and peak resident memory, and E_F and the gap")
    parser.add_argument("--png", default="benchmarks/results/time_to_hamiltonian.png")
    parser.add_argument("--log", nargs="*", default=[],
                        help="only plot: the printed tables of earlier runs (their builder is read from the header)")
    args = parser.parse_args()
    if args.log:
        plot([row for path in args.log for row in read_log(path)], Path(args.png))
        print(f"log-log plot: {args.png}")
        return

    from ase.build import bulk

    from nextham.predict import Predictor

    settings_of = Predictor(args.ckpt)
    rows = []
    header = (f"{'structure':<12}{'atoms':>6}{'DFT s':>9}{'(SCF s)':>9}{'DFT MB':>8}{'predict s':>10}{'(H0+S s)':>9}"
              f"{'(net s)':>8}{'pred MB':>8}{'DFT/pred':>9}{'Gauge MAE meV':>14}{'H(0) meV':>9}{'(E_F s)':>9}"
              f"{'solver':>8}{'DOS s':>8}")
    print(f"{machine()}; threads {args.threads}, checkpoint {args.ckpt}, builder {args.builder}\n{header}\n" + "-" * len(header),
          flush=True)
    for system in args.systems:
        formula, prototype, a = SYSTEMS[system]
        for n in args.repeats:
            atoms = bulk(formula, prototype, a=a).repeat((n, n, n))
            label = f"{system}-{len(atoms)}"
            p_seconds, p_peak, predicted, timings = in_fresh_process(args.threads, _predict, args.ckpt, atoms, label,
                                                                          args.builder, args.solver)
            row = {"label": label, "system": system, "atoms": len(atoms), "predict_s": p_seconds, "predict_mb": p_peak,
                   "h0_s": timings["h0_and_overlap_s"], "net_s": timings["inference_s"], "dft_s": float("nan"),
                   "scf_s": float("nan"), "dft_mb": float("nan"), "mae": float("nan"), "h0_mae": float("nan")}
            if len(atoms) <= args.scf_max_atoms:
                settings = {**settings_of.settings_for(atoms.get_chemical_symbols()).to_dict(), "builder": args.builder}
                d_seconds, d_peak, truth = in_fresh_process(args.threads, _scf, atoms, label, settings)
                row.update(dft_s=d_seconds, scf_s=truth.metadata["timings"]["scf_s"], dft_mb=d_peak,
                           mae=gauge_mae_mev(predicted, truth),
                           h0_mae=gauge_mae_mev(predicted.replace(hamiltonian=predicted.hamiltonian_0), truth))
            row["builder"] = args.builder
            rows.append(row)
            print(f"{label:<12}{row['atoms']:>6}{row['dft_s']:>9.1f}{row['scf_s']:>9.1f}{row['dft_mb']:>8.0f}"
                  f"{row['predict_s']:>10.1f}{row['h0_s']:>9.1f}{row['net_s']:>8.2f}{row['predict_mb']:>8.0f}"
                  f"{row['dft_s'] / row['predict_s']:>9.2f}{row['mae']:>14.3f}{row['h0_mae']:>9.3f}"
                  f"{timings['eigensolver_s']:>9.1f}{timings['solver']:>8}{timings['dos_s']:>8.1f}", flush=True)
            if args.stages:
                stages = "; ".join(f"{name} {timings[key]:.1f} s, {mb:,.0f} MB"
                                   for (key, name), mb in zip([*STAGES, ("dos_s", "DOS")],
                                                              timings["stage_peaks_mb"].values()))
                print(f"    stages (time, peak resident memory): {stages}; {timings['fermi']}", flush=True)
    plot(rows, Path(args.png))
    print(f"log-log plot: {args.png}")


def read_log(path) -> list:
    """Rows of a table this script printed (the columns `plot` needs)."""
    rows, builder = [], "realspace"
    for line in Path(path).read_text().splitlines():
        if "threads" in line and "checkpoint" in line:  # the header line (after the machine, when printed)
            builder = line.rsplit("builder", 1)[-1].strip() if "builder" in line else "kspace"
        fields = line.split()
        if len(fields) >= 12 and fields[0].split("-")[0] in SYSTEMS and fields[1].isdigit():
            rows.append({"system": fields[0].split("-")[0], "atoms": int(fields[1]), "dft_s": float(fields[2]),
                         "predict_s": float(fields[5]), "builder": builder})
    return rows


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.6), dpi=110)
    for builder, alpha in (("kspace", 0.35), ("realspace", 1.0)):
        for system, colour in zip(SYSTEMS, ("tab:blue", "tab:red")):
            mine = sorted((r for r in rows if r["system"] == system and r.get("builder", "realspace") == builder),
                          key=lambda r: r["atoms"])
            if not mine:
                continue
            tag = "k-space H(0)" if builder == "kspace" else "real-space H(0)"
            atoms = [r["atoms"] for r in mine]
            axis.plot(atoms, [r["predict_s"] for r in mine], "o-", color=colour, alpha=alpha,
                      label=f"{system}: predict ({tag})")
            dft = [(r["atoms"], r["dft_s"]) for r in mine if np.isfinite(r["dft_s"])]
            if dft:
                axis.plot(*zip(*dft), "s--", color=colour, alpha=alpha, label=f"{system}: SCF + H(T) ({tag})")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("atoms in the cell")
    axis.set_ylabel("wall time (s)")
    axis.legend(fontsize=8)
    axis.grid(True, which="both", color="0.9")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


if __name__ == "__main__":
    main()
