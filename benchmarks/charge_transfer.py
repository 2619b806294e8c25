"""What H(0)'s filled bands say about the SCF's correction: for every two-element structure of a
dataset, the excess electrons δ of one species when H(0)'s bands are filled (Mulliken, over neutral
atoms; nextham.kspace.populations) beside the relative on-site shift of H(T) − H(0) between the two
species (the mean diagonal of one species' on-site blocks minus the other's; invariant, no gauge). The
population input of the network (network.population_input) rests on this relation.

    python benchmarks/charge_transfer.py                       # datasets/bench, table + PNG
    python benchmarks/charge_transfer.py --root datasets/bench --png benchmarks/results/charge_transfer.png
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from nextham.conventions import element_symbol
from nextham.io import ShardedDataset
from nextham.kspace.populations import mulliken_populations

ROOT = Path(__file__).resolve().parents[1]


def species_rows(dataset):
    """(compound, group, first species, δ of the first species (electrons), relative shift (meV)) of
    every structure with two elements; the first species is the lighter."""
    for label in dataset.labels:
        record = dataset.read(label)
        numbers = np.asarray(record.atomic_numbers)
        if len(set(numbers.tolist())) != 2:
            continue
        light, heavy = sorted(set(numbers.tolist()))
        populations = mulliken_populations(record)
        offsets = record.orbital_offsets()
        valence = {z: dataset.basis.for_atomic_number(z).valence_electrons for z in (light, heavy)}
        excess = np.array([populations[a:b].sum() - valence[z] for a, b, z in zip(offsets[:-1], offsets[1:], numbers)])
        diagonal = {light: [], heavy: []}
        hamiltonian, hamiltonian_0 = record.blocks("hamiltonian"), record.blocks("hamiltonian_0")
        for edge in np.flatnonzero(record.edge_distances() < 1e-6):
            atom = int(record.edge_index[edge][0])
            difference = np.asarray(hamiltonian[edge]) - np.asarray(hamiltonian_0[edge])
            size = record.orbital_counts[atom]
            diagonal[int(numbers[atom])].append(np.real(np.trace(difference[:size, :size])) / size)
        shift = 1000 * (np.mean(diagonal[light]) - np.mean(diagonal[heavy]))
        compound = label.rsplit("-", 1)[0]
        yield compound, dataset.group_of(label), element_symbol(light), float(excess[numbers == light].mean()), shift


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT / "datasets" / "bench"))
    parser.add_argument("--png", default=str(ROOT / "benchmarks" / "results" / "charge_transfer.png"))
    args = parser.parse_args()
    dataset = ShardedDataset(args.root)
    compounds = defaultdict(list)
    for compound, group, light, excess, shift in species_rows(dataset):
        compounds[(compound, group, light)].append((excess, shift))
    print(f"Two-element structures of {args.root}: δ = excess electrons of the lighter species in H(0)'s filled "
          f"bands; shift = its on-site levels minus the other's in H(T) − H(0) (mean of each compound's variants)")
    header = f"{'compound':<36}{'group':<18}{'species':>8}{'δ (e)':>9}{'shift (meV)':>13}{'shift/δ (eV/e)':>16}"
    print(header + "\n" + "-" * len(header))
    points = []
    for (compound, group, light), values in sorted(compounds.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        excess, shift = np.mean(values, axis=0)
        points.append((excess, shift, group))
        ratio = f"{shift / excess / 1000:>16.2f}" if abs(excess) > 0.02 else f"{'—':>16}"
        print(f"{compound:<36}{group:<18}{light:>8}{excess:>9.3f}{shift:>13.1f}{ratio}")
    excess, shift = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    same_sign = int(np.sum(np.sign(excess) == np.sign(shift)))
    print(f"\nsame sign of δ and shift: {same_sign} of {len(points)} compounds; "
          f"correlation {np.corrcoef(excess, shift)[0, 1]:.3f}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for group in sorted({p[2] for p in points}):
        chosen = [p for p in points if p[2] == group]
        axis.scatter([p[0] for p in chosen], [p[1] for p in chosen], label=group, s=22)
    axis.axhline(0, color="0.7", lw=0.8)
    axis.axvline(0, color="0.7", lw=0.8)
    axis.set_xlabel("excess electrons of the lighter species, H(0)'s filled bands")
    axis.set_ylabel("its on-site shift in H(T) − H(0) (meV)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.png, dpi=130)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
