"""A non-magnetic Ĥ is time-reversal invariant: Θ Ĥ Θ⁻¹ = Ĥ with Θ = iσ_y K, at initialisation and
after training steps, for the spinor output too (Kramers pairs stay degenerate)."""
import numpy as np
import pytest
import torch

from nextham.data.batch import collate_graphs, record_to_sample
from nextham.data.layout import OrbitalLayout
from nextham.conventions import spin_diagonal
from nextham.kspace import bloch_sum, generalized_eigh
from nextham.nn.network import NextHAMNet

pytestmark = pytest.mark.usefixtures("float64")
SIGMA_Y = torch.tensor([[0, -1j], [1j, 0]], dtype=torch.complex128)
TRIM = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.5]], dtype=torch.float64)


def time_reversed(blocks):
    """σ_y H* σ_y on the spin index of spin-major (E, 2P, 2P) blocks."""
    p = blocks.shape[-1] // 2
    spin = torch.kron(SIGMA_Y, torch.eye(p, dtype=torch.complex128))
    return spin @ blocks.conj() @ spin


def kramers_splitting(hamiltonian, batch):
    """Largest gap inside the pairs of sorted eigenvalues at the time-reversal-invariant k (eV)."""
    natoms = int(batch.num_atoms[0])
    node_mask = torch.cat([batch.node_orbital_mask, batch.node_orbital_mask], dim=-1)
    h = bloch_sum(hamiltonian, batch.edge_index, batch.cell_shifts, natoms, TRIM, node_mask)
    s = bloch_sum(spin_diagonal(batch.overlap), batch.edge_index, batch.cell_shifts, natoms, TRIM, node_mask)
    energies, _ = generalized_eigh(h, s)
    return float((energies[:, 1::2] - energies[:, 0::2]).abs().max())


@pytest.mark.parametrize("label", ["CsI-cesium_chloride-000", "AlAs-zincblende-001"])
def test_spinor_output_is_time_reversal_invariant_at_init_and_after_training(embedded, label):
    layout = OrbitalLayout(embedded.basis)
    record = embedded.read(label).astype(np.float64)
    batch = collate_graphs([record_to_sample(record, True, 5.0)], layout, True, torch.float64)
    torch.manual_seed(1)
    network = NextHAMNet(layout.slot_ls, spinful_input=True, spin_output="spinor", num_layers=1,
                         hidden_multiplicities={0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 2, 6: 2}, num_radial_basis=8,
                         radial_hidden=8, tracegrad={"num_invariants": 8, "hidden": 8}, output_scale=1.0)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    # a target with a deliberately time-odd part: training must not be able to learn it into Ĥ
    magnetic = 0.05 * torch.kron(torch.tensor([[1.0, 0], [0, -1.0]], dtype=torch.complex128),
                                 torch.eye(layout.num_orbitals, dtype=torch.complex128)) * batch.orbital_mask
    for step in range(4):
        delta = network(batch)["delta_hamiltonian"]
        assert delta.abs().max() > 1e-3  # a real correction, not zero
        torch.testing.assert_close(time_reversed(delta), delta, rtol=0, atol=1e-12)
        assert kramers_splitting(batch.hamiltonian_0 + delta.detach(), batch) < 1e-8
        loss = (delta - batch.delta_hamiltonian - magnetic).abs().pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert kramers_splitting(batch.hamiltonian_0, batch) < 1e-6  # the input itself is non-magnetic
