import numpy as np
import pytest
import torch

from nextham.data.batch import collate_graphs, record_to_sample
from nextham.data.layout import OrbitalLayout
from nextham.nn.tracegrad import trace_targets




@pytest.fixture(scope="module")
def real_batch(embedded):
    """Two real spinless structures in float64."""
    layout = OrbitalLayout(embedded.basis)
    records = [r.astype(np.float64) for r in embedded if not r.spinful][:2]
    return collate_graphs([record_to_sample(r, False) for r in records], layout, False), layout


def prediction(delta, layout, trace_of=None):
    """A prediction dict as the network returns it, with ``delta`` as ΔĤ."""
    return {"delta_hamiltonian": delta, "slot_ls": layout.slot_ls,
            "trace": trace_targets(delta if trace_of is None else trace_of, layout.slot_ls)}


def hermitian_noise(batch, scale, seed=1):
    """A planted random error (Hermitian, on existing orbitals) — test input, not a Hamiltonian."""
    noise = torch.randn(batch.hamiltonian.shape, generator=torch.Generator().manual_seed(seed)) * scale
    noise = noise * batch.orbital_mask
    return 0.5 * (noise + noise[batch.reverse_edge].transpose(-1, -2))


def planted_ghost(batch, shift_ev=-25.0):
    """Pull the last orbital (a p orbital) of the first atom down by 25 eV: a high-energy state drops
    into the P window."""
    onsite = ((batch.edge_index[0] == 0) & (batch.edge_index[1] == 0) & (batch.cell_shifts == 0).all(-1)).nonzero()[0, 0]
    orbital = int(batch.node_orbital_mask[0].nonzero()[-1])
    error = torch.zeros_like(batch.hamiltonian)
    error[onsite, orbital, orbital] = shift_ev
    return error
