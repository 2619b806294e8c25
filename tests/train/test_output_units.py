"""Each member's output unit: the RMS of ΔH − μ*S in its distance range on the training split,
recomputed here independently, carried into the member and its checkpoint, and a plain scale of ΔĤ."""
import numpy as np
import pytest
import torch

from nextham.configs import CONFIG_ROOT, load_config
from nextham.data.layout import OrbitalLayout
from nextham.nn.ensemble import DistanceRangeMember, NextHAMEnsemble
from nextham.train.output_units import correction_rms_by_range, with_member_output_units

from ..reference import spinor_overlap_blocks

TINY = {"num_layers": 1, "num_heads": 1, "hidden_multiplicities": {0: 4, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2},
        "num_radial_basis": 8, "radial_hidden": 8, "tracegrad": {"num_invariants": 8, "hidden": 8}}
RANGES = [(0.0, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 6.0)]


def test_the_units_are_the_rms_of_what_h0_leaves_in_each_range(embedded):
    labels = embedded.split_labels("train")
    squares, counts = np.zeros(4), np.zeros(4)
    for label in labels:
        record = embedded.read(label)
        overlap = spinor_overlap_blocks(record)
        difference = [t - s for t, s in zip(record.blocks("hamiltonian"), record.blocks("hamiltonian_0"))]
        flat_s = np.concatenate([b.ravel() for b in overlap])
        flat_d = np.concatenate([b.ravel() for b in difference])
        mu = np.real(np.vdot(flat_s, flat_d)) / np.vdot(flat_s, flat_s).real  # the gauge of H(T) − H(0)
        for block, s, distance in zip(difference, overlap, record.edge_distances()):
            for k, (low, high) in enumerate(RANGES):
                if low - 1e-9 <= distance < high:
                    squares[k] += (np.abs(block - mu * s) ** 2).sum()
                    counts[k] += block.size
    expected = np.sqrt(squares / counts)
    measured = correction_rms_by_range(embedded, labels, RANGES)
    np.testing.assert_allclose(measured, expected, rtol=1e-6)
    assert measured[0] > 10 * measured[3]  # the on-site corrections are the large ones


def test_auto_units_land_in_the_member_configs_and_the_members(embedded):
    model = load_config(CONFIG_ROOT / "model" / "nextham.yaml")
    model = {**model, "network": TINY, "member_output_units": "auto"}
    resolved = with_member_output_units(model, embedded, embedded.split_labels("train"))
    units = [m["output_unit_ev"] for m in resolved["members"]]
    assert resolved["member_output_units"] == units and len(set(units)) == 4
    layout = OrbitalLayout(embedded.basis)
    ensemble = NextHAMEnsemble.from_config(resolved, layout.slot_ls, True)
    assert [m.network.output_unit_ev for m in ensemble.members] == pytest.approx(units)
    unchanged = {**model, "member_output_units": None}
    assert with_member_output_units(unchanged, embedded, []) is unchanged
    with pytest.raises(ValueError, match="one number per member"):
        with_member_output_units({**model, "member_output_units": [1.0]}, embedded, [])


def test_the_unit_scales_the_correction_and_nothing_else(embedded, float64):
    from nextham.data.batch import collate_graphs, record_to_sample

    layout = OrbitalLayout(embedded.basis)
    record = embedded.read("SiC-zincblende-002").astype(np.float64)
    batch = collate_graphs([record_to_sample(record, False)], layout, False, torch.float64, graph_cutoff=6.0)
    outputs = []
    for unit in (1.0, 0.25):
        torch.manual_seed(0)
        member = DistanceRangeMember("range_2_4", [2.0, 4.0], layout.slot_ls, False, network={**TINY, "output_scale": 1.0},
                                     output_unit_ev=unit).double().eval()
        with torch.no_grad():
            outputs.append(member(batch)["delta_hamiltonian"])
    assert float(outputs[0].abs().max()) > 1e-4
    torch.testing.assert_close(outputs[1], 0.25 * outputs[0], atol=1e-14, rtol=1e-12)
