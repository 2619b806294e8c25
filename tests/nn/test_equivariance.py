"""The whole network on real structures: rotation/inversion equivariance (float64, < 1e-5),
translation and permutation invariance, exact hermiticity; with and without the invariant extras
(the overlap shift and the H(0) population input)."""
import re

import numpy as np
import pytest
import torch

from nextham.errors import DataError
from nextham.data.batch import collate_graphs, record_to_sample
from nextham.data.layout import OrbitalLayout
from nextham.kspace.populations import mulliken_populations
from nextham.nn.network import NextHAMNet
from nextham.testing import assert_equivariant
from tests.conftest import random_rotation

pytestmark = pytest.mark.usefixtures("float64")

SMALL = dict(num_layers=2, num_heads=2, hidden_multiplicities={0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 2, 6: 2},
             num_radial_basis=16, radial_hidden=16, tracegrad={"num_invariants": 16, "hidden": 16}, output_scale=1.0)




def _batch(records, layout, spinful):
    return collate_graphs([record_to_sample(r, spinful, 6.0, mulliken_populations(r)) for r in records], layout, spinful)


def _network(layout, spinful, seed=0, **options):
    torch.manual_seed(seed)
    return NextHAMNet(layout.slot_ls, spinful_input=spinful, **{**SMALL, **options}).double().eval()


def _records(embedded, spinful):
    """Two real structures, in float64 so that rotating the stored float32 blocks loses nothing."""
    return [r.astype(np.float64) for r in embedded if r.spinful == spinful][:2]


@pytest.mark.parametrize("spinful, spin_output", [(False, "spinless"), (True, "spinless"), (True, "spinor")])
@pytest.mark.parametrize("improper", [False, True])
@pytest.mark.parametrize("extras", [False, True])
def test_rotation_and_inversion_equivariance(embedded, spinful, spin_output, improper, extras):
    layout = OrbitalLayout(embedded.basis)
    records = _records(embedded, spinful)
    network = _network(layout, spinful, spin_output=spin_output, overlap_shift=extras, population_input=extras)
    rotation = random_rotation(11, improper)
    deviation = assert_equivariant(network, records, layout, rotation, spinful, graph_cutoff=6.0, atol=1e-9,
                                   min_magnitude=1e-3)  # a non-trivial prediction
    assert deviation < 1e-5


def test_the_equivariance_assertion_catches_a_broken_model(embedded):
    """A predictor that ignores the rotation of its input (it returns the unrotated prediction) fails."""
    layout = OrbitalLayout(embedded.basis)
    records = _records(embedded, False)
    network = _network(layout, False)
    frozen = network(_batch(records, layout, False))["delta_hamiltonian"].detach()
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(lambda batch: frozen, records, layout, random_rotation(3), graph_cutoff=6.0)
    with pytest.raises(AssertionError, match="trivially"):
        assert_equivariant(lambda batch: 0.0 * frozen, records, layout, random_rotation(3), graph_cutoff=6.0)


def test_translation_and_permutation_invariance(embedded):
    layout = OrbitalLayout(embedded.basis)
    record = _records(embedded, False)[0]
    network = _network(layout, False)
    with torch.no_grad():
        reference = network(_batch([record], layout, False))
        moved = record.rotated(np.eye(3), embedded.basis)
        moved.positions = moved.positions + np.array([0.3, -1.1, 2.0])
        shifted = network(_batch([moved], layout, False))
        flipped = network(_batch([record.reordered([1, 0])], layout, False))
    torch.testing.assert_close(shifted["delta_hamiltonian"], reference["delta_hamiltonian"], atol=1e-10, rtol=0)
    key = lambda batch: {(int(i), int(j), *batch.cell_shifts[e].tolist()): e
                         for e, (i, j) in enumerate(batch.edge_index.T)}
    original_batch, flipped_batch = _batch([record], layout, False), _batch([record.reordered([1, 0])], layout, False)
    original_keys, flipped_keys = key(original_batch), key(flipped_batch)
    for (i, j, *shift), e in original_keys.items():
        f = flipped_keys[(1 - i, 1 - j, *shift)]
        torch.testing.assert_close(flipped["delta_hamiltonian"][f], reference["delta_hamiltonian"][e], atol=1e-10, rtol=0)


@pytest.mark.parametrize("extras", [False, True])
def test_hermiticity_is_exact(embedded, extras):
    layout = OrbitalLayout(embedded.basis)
    for spinful in (False, True):
        batch = _batch(_records(embedded, spinful), layout, spinful)
        delta = _network(layout, spinful, overlap_shift=extras, population_input=extras)(batch)["delta_hamiltonian"]
        torch.testing.assert_close(delta, delta[batch.reverse_edge].transpose(-1, -2).conj(), atol=0, rtol=0)
        assert torch.all(delta[~batch.orbital_mask] == 0)


def test_the_population_input_changes_the_prediction_and_needs_an_electron_count(embedded):
    layout = OrbitalLayout(embedded.basis)
    records = _records(embedded, False)
    network = _network(layout, False, population_input=True)
    batch = _batch(records, layout, False)
    with torch.no_grad():
        reference = network(batch)["delta_hamiltonian"]
        batch.node_populations = batch.node_populations + 0.5
        assert (network(batch)["delta_hamiltonian"] - reference).abs().max() > 1e-6
    unknown = [records[0].replace(num_electrons=float("nan")), records[1]]
    with pytest.raises(DataError, match=re.escape(records[0].label) + ".*num_electrons"):
        network(_batch(unknown, layout, False))
