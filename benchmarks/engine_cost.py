"""What a higher plane-wave cutoff costs: H(0)+S alone (what `nextham predict` builds) and the whole
recipe (SCF, real-space blocks, band check, E_F) for zincblende ZnS and GaAs at 80, 120 and 160 Ha, with
the real-space builder's stages, side by side in one run (the benchmark recipe's engine section with
12 Å of pairs).

    OMP_NUM_THREADS=2 python benchmarks/engine_cost.py [--cutoffs 80 120 160] [--systems ZnS GaAs]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from nextham.configs import load_config
from nextham.dft.engine_rules import resolve_engine_settings
from nextham.dft.prototypes import build_prototype
from nextham.structures import StructureSpec
from nextham.dft.engine_settings import PySCFSettings
from nextham.dft.pyscf_engine import compute_structure, zeroth_step_blocks
from common import machine

SYSTEMS = {"ZnS": (["Zn", "S"], 5.41), "GaAs": (["Ga", "As"], 5.65)}
STAGES = ("setup_s", "analytic_s", "free_atoms_s", "atomic_density_s", "pseudo_charge_s", "potential_s",
          "potential_matrix_s")


def settings(system, cutoff) -> PySCFSettings:
    elements, a = SYSTEMS[system]
    symbols, positions, lattice = build_prototype("zincblende", elements, a=a)
    spec = StructureSpec(label=system, symbols=symbols, positions=positions, lattice=lattice)
    engine = resolve_engine_settings(load_config("data/bench.yaml")["engine"], ())  # the section, not the rules
    return spec, PySCFSettings.from_dict({**engine, "ke_cutoff_hartree": cutoff, "pair_cutoff_angstrom": 12.0,
                                          "adaptive_pair_cutoff": False, "eigenvalue_tolerance_hartree": 10.0})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cutoffs", nargs="*", type=float, default=[80.0, 120.0, 160.0])
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS))
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"{machine()}; threads: {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
    header = (f"{'system':<6}{'Ha':>5}{'mesh':>12}{'H0+S s':>8}{'x80':>6}  " + "".join(f"{s[:-2]:>17}" for s in STAGES)
              + f"{'recipe s':>10}{'x80':>6}{'SCF s':>8}{'blocks s':>9}{'E_F s':>7}{'check Ha':>10}")
    print(header + "\n" + "-" * len(header), flush=True)
    for system in args.systems:
        first = {}
        for cutoff in args.cutoffs:
            spec, engine = settings(system, cutoff)
            start = time.perf_counter()
            record, _ = zeroth_step_blocks(spec, engine)
            h0 = time.perf_counter() - start
            stages = record.metadata["timings"]
            start = time.perf_counter()
            full, _ = compute_structure(spec, engine)
            recipe = time.perf_counter() - start
            timings = full.metadata["timings"]
            first.setdefault("h0", h0)
            first.setdefault("recipe", recipe)
            print(f"{system:<6}{cutoff:>5.0f}{'x'.join(map(str, record.metadata['mesh'])):>12}{h0:>8.1f}"
                  f"{h0 / first['h0']:>6.2f}  " + "".join(f"{stages.get(s, float('nan')):>17.2f}" for s in STAGES)
                  + f"{recipe:>10.1f}{recipe / first['recipe']:>6.2f}{timings['scf_s']:>8.1f}{timings['realspace_s']:>9.1f}"
                  f"{timings.get('occupation_s', float('nan')):>7.1f}{full.metadata['eigenvalue_check_ev'] / 27.211386:>10.1e}",
                  flush=True)


if __name__ == "__main__":
    main()
