"""The dataset report of ``nextham data inspect``: per structure sizes, electrons, E_F, gap, the H(0)
baseline, and the physics checks (eigenvalues against the DFT code's own, hermiticity)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..conventions import units
from ..kspace import gauge_mae
from ..kspace.occupation import occupation_facts
from ..record import HamiltonianRecord, check_eigenvalues
from .shards import ShardedDataset


def structure_summary(record: HamiltonianRecord, check: bool = True) -> dict:
    overlap = HamiltonianRecord.flatten_blocks(record.spinor_overlap_blocks()).astype(np.float64)
    dtype = np.complex128 if record.spinful else np.float64
    ht = record.hamiltonian.astype(dtype)
    distances = record.edge_distances()
    occupation = record.occupation()
    summary = {
        "label": record.label, "formula": record.formula, "atoms": record.num_atoms, "edges": record.num_edges,
        "spinful": record.spinful, "cutoff_angstrom": float(distances.max()),
        "max_abs_delta_h_mev": float("nan"), "h0_gauge_mae_mev": float("nan"),
        "electrons": record.num_electrons, "fermi_energy_ev": record.fermi_energy, **occupation_facts(occupation),
        "reference_kpoints": len(record.reference_kpoints),
    }
    if record.has_hamiltonian_0:
        h0 = record.hamiltonian_0.astype(dtype)
        summary["max_abs_delta_h_mev"] = float(np.abs(ht - h0).max() * units.EV_TO_MEV)
        summary["h0_gauge_mae_mev"] = gauge_mae(h0, ht, overlap) * units.EV_TO_MEV
    if check:
        hermiticity = record.hermiticity_error()
        error = check_eigenvalues(record)
        summary["eigenvalue_error_mev"] = None if error is None else error * units.EV_TO_MEV
        summary["hermiticity_error_ev"] = hermiticity
    return summary


def inspect_dataset(path, check: bool = True, tolerance_hartree: float = 1e-5,
                    hermiticity_tolerance_ev: float = 1e-6) -> dict:
    dataset = ShardedDataset(path)
    structures = [structure_summary(record, check) for record in dataset]
    split_of = {label: name for name, labels in dataset.manifest["split"].items() for label in labels}
    for structure in structures:
        structure["group"] = dataset.group_of(structure["label"])
        structure["split"] = split_of.get(structure["label"])
    tolerance_mev = tolerance_hartree * units.HARTREE_TO_EV * units.EV_TO_MEV
    eigenvalue_errors = [s["eigenvalue_error_mev"] for s in structures if s.get("eigenvalue_error_mev") is not None]
    passed = all(error <= tolerance_mev for error in eigenvalue_errors) \
        and all(s.get("hermiticity_error_ev", 0.0) <= hermiticity_tolerance_ev for s in structures)
    manifest = dataset.manifest
    return {
        "path": str(Path(path)), "counts": manifest["counts"], "elements": manifest["elements"],
        "basis": {s: b.describe() for s, b in dataset.basis.elements.items()},
        "split": {name: len(labels) for name, labels in manifest["split"].items()},
        "failed": manifest.get("failed", {}), "structures": structures,
        "eigenvalue_tolerance_mev": tolerance_mev, "checked": check, "all_checks_passed": passed,
        "eigenvalues_checked": len(eigenvalue_errors), "has_hamiltonian_0": dataset.has_hamiltonian_0,
    }


def format_summary(summary: dict) -> str:
    counts = summary["counts"]
    lines = [
        f"dataset {summary['path']}",
        f"  {counts['structures']} structures in {counts['shards']} shards, {counts['atoms']} atoms, "
        f"{counts['edges']} blocks; split " + ", ".join(f"{k} {v}" for k, v in summary["split"].items()),
        f"  {len(summary['basis'])} elements/basis: " + ", ".join(f"{s} {b}" for s, b in sorted(summary["basis"].items())),
    ]
    groups = sorted({s["group"] for s in summary["structures"]})
    if groups != ["in_distribution"]:
        for group in groups:
            members = [s for s in summary["structures"] if s["group"] == group]
            per_split = {}
            for s in members:
                per_split[s["split"]] = per_split.get(s["split"], 0) + 1
            test = [s["h0_gauge_mae_mev"] for s in members if s["split"] == "test"]
            lines.append(f"  group {group}: {len(members)} structures (" + ", ".join(f"{k} {v}" for k, v in
                         sorted(per_split.items())) + ")" + (f"; H(0) gauge MAE on its test structures "
                                                              f"{np.mean(test):.3f} meV" if test else ""))
    lines.append("")
    header = f"{'structure':<28}{'atoms':>6}{'blocks':>7}{'SOC':>5}{'cut Å':>7}{'e⁻':>5}{'E_F eV':>8}{'gap eV':>8}" \
             f"{'max|ΔH| meV':>13}{'H(0) gauge MAE meV':>20}"
    if summary["checked"]:
        header += f"{'eig err meV':>13}{'herm err':>10}"
    lines += [header, "-" * len(header)]
    for s in summary["structures"]:
        line = (f"{s['label']:<28}{s['atoms']:>6}{s['edges']:>7}{'yes' if s['spinful'] else 'no':>5}"
                f"{s['cutoff_angstrom']:>7.2f}{s['electrons']:>5.0f}{s['fermi_energy_ev']:>8.3f}{s['band_gap_ev']:>8.2f}"
                f"{s['max_abs_delta_h_mev']:>13.1f}{s['h0_gauge_mae_mev']:>20.3f}")
        if summary["checked"]:
            error = s["eigenvalue_error_mev"]
            line += f"{'n/a' if error is None else format(error, '.2e'):>13}{s['hermiticity_error_ev']:>10.1e}"
        lines.append(line)
    structures = summary["structures"]
    if structures:
        lines.append("-" * len(header))
        if summary["has_hamiltonian_0"]:
            lines.append(f"mean H(0) gauge MAE (the baseline a model must beat): "
                         f"{np.mean([s['h0_gauge_mae_mev'] for s in structures]):.3f} meV")
        else:
            lines.append("no H(0) stored (imported DFT data): usable for evaluation and bands; training needs H(0) "
                         "(`nextham data generate` computes it, or put hamiltonian_0.h5 beside hamiltonian.h5)")
        if summary["checked"]:
            errors = [s["eigenvalue_error_mev"] for s in structures if s["eigenvalue_error_mev"] is not None]
            worst_hermiticity = max(s["hermiticity_error_ev"] for s in structures)
            lines.append(f"hermiticity |H_ij(R) - H_ji(-R)^†|: max {worst_hermiticity:.1e} eV")
            if errors:
                lines.append(f"eigenvalues of stored H(T)(k), S(k) vs the DFT code's own ({len(errors)} of "
                             f"{len(structures)} structures hold them): max error {max(errors):.2e} meV "
                             f"(tolerance {summary['eigenvalue_tolerance_mev']:.3f} meV) -> "
                             f"{'PASS' if summary['all_checks_passed'] else 'FAIL'}")
            else:
                lines.append("eigenvalues: nothing to check — no structure holds the DFT code's own eigenvalues "
                             "(imported data); hermiticity " + ("PASS" if summary["all_checks_passed"] else "FAIL"))
    if summary["failed"]:
        lines.append(f"{len(summary['failed'])} structures failed during generation:")
        lines += [f"  {label}: {reason}" for label, reason in summary["failed"].items()]
    return "\n".join(lines)
