"""Which elements the engine's recipe can store: the band check (eigenvalues of the stored H(T)(k), S(k)
against the SCF's own, 1e-5 Ha) on the ideal crystal of candidate compounds, with the embedded recipe's
engine section and the variations a candidate needs (pair range, GTH valence, basis, plane-wave cutoff).
Prints a table; nothing is asserted.

    OMP_NUM_THREADS=1 python benchmarks/engine_band_check.py [--only NaCl MgO-q2 ...]

The benchmark recipe (nextham/configs/data/bench.yaml) keeps the compounds that pass.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from nextham.configs import load_config
from nextham.conventions import units
from nextham.dft.generate import merge_engine_settings
from nextham.dft.prototypes import StructureSpec, build_prototype
from nextham.dft.pyscf_engine import PySCFSettings, compute_structure
from nextham.record import check_eigenvalues

RICH = "DZVP-MOLOPT-SR-GTH"
# name: (prototype, elements, parameters, engine settings on top of the embedded recipe's)
CANDIDATES = {
    "NaCl (Na q9)": ("rocksalt", ["Na", "Cl"], {"a": 5.64}, {"pair_cutoff_angstrom": 15.0}),
    "NaCl (Na q9, DZVP)": ("rocksalt", ["Na", "Cl"], {"a": 5.64}, {"pair_cutoff_angstrom": 15.0, "basis": RICH}),
    "NaCl (Na q9, 200 Ha)": ("rocksalt", ["Na", "Cl"], {"a": 5.64}, {"pair_cutoff_angstrom": 15.0,
                                                                      "ke_cutoff_hartree": 200.0}),
    "LiF (Li q3)": ("rocksalt", ["Li", "F"], {"a": 4.03}, {"pair_cutoff_angstrom": 18.0}),
    "MgO (Mg q10)": ("rocksalt", ["Mg", "O"], {"a": 4.21}, {"pair_cutoff_angstrom": 15.0}),
    "MgO (Mg q2)": ("rocksalt", ["Mg", "O"], {"a": 4.21}, {"pair_cutoff_angstrom": 15.0, "valence": {"Mg": 2}}),
    "MgCl2 1T (Mg q2)": ("mx2_1t_monolayer", ["Mg", "Cl"], {"a": 3.64, "thickness": 2.9, "vacuum": 12.0},
                         {"pair_cutoff_angstrom": 15.0, "valence": {"Mg": 2}}),
    "ZnS (Zn q12)": ("zincblende", ["Zn", "S"], {"a": 5.41}, {}),
    "PbTe (Pb q4)": ("rocksalt", ["Pb", "Te"], {"a": 6.46}, {"pair_cutoff_angstrom": 12.0, "valence": {"Pb": 4}}),
    "SnTe": ("rocksalt", ["Sn", "Te"], {"a": 6.32}, {"pair_cutoff_angstrom": 12.0}),
    "h-BN": ("hexagonal_monolayer", ["B", "N"], {"a": 2.504, "vacuum": 12.0}, {}),
    "AlN wurtzite": ("wurtzite", ["Al", "N"], {"a": 3.11, "c": 4.98, "u": 0.382}, {"pair_cutoff_angstrom": 12.0}),
}


def check(name):
    prototype, elements, parameters, overrides = CANDIDATES[name]
    engine = merge_engine_settings(load_config("data/embedded.yaml")["engine"],
                                   {**overrides, "eigenvalue_tolerance_hartree": 10.0, "adaptive_pair_cutoff": False})
    symbols, positions, lattice = build_prototype(prototype, elements, **parameters)
    spec = StructureSpec(label=name, symbols=symbols, positions=positions, lattice=lattice)
    start = time.perf_counter()
    record, _ = compute_structure(spec, PySCFSettings.from_dict(engine))
    seconds = time.perf_counter() - start
    error = check_eigenvalues(record) / units.HARTREE_TO_EV
    computed = record.eigenvalues(record.reference_kpoints)
    worst_band = int(np.abs(computed - np.sort(record.reference_eigenvalues, axis=1)).max(0).argmax())
    lowest = float(np.sort(record.reference_eigenvalues, axis=1)[:, worst_band].mean())
    return error, worst_band, lowest, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help=f"candidates: {list(CANDIDATES)}")
    args = parser.parse_args()
    names = args.only or list(CANDIDATES)
    header = f"{'candidate':<24}{'band check Ha':>15}{'':>7}{'worst band (mean ε, eV)':>28}{'time s':>9}"
    print(header + "\n" + "-" * len(header), flush=True)
    for name in names:
        error, band, energy, seconds = check(name)
        verdict = "pass" if error <= 1e-5 else "FAIL"
        print(f"{name:<24}{error:>15.2e}{verdict:>7}{f'#{band} ({energy:.1f})':>28}{seconds:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
