"""The pair accumulator: completing halves by their transposed partners (random numbers, not a
Hamiltonian: the test is about bookkeeping)."""
import numpy as np
import torch

from nextham.dft.realspace.pairs import PairBlocks


def test_transposed_partners_complete_each_block_in_place_in_any_chunking():
    rng = np.random.default_rng(0)
    lattice = np.diag([4.0, 4.5, 5.0])
    positions = rng.random((3, 3)) @ lattice
    template = PairBlocks(positions, lattice, 6.0, [4, 2, 3])
    half = template.zeros_like()
    half.blocks = torch.as_tensor(rng.normal(size=half.blocks.shape))
    partner = template.lookup(template.second, template.first, -template.shifts)
    expected = half.blocks + half.blocks[torch.as_tensor(partner)].transpose(1, 2)
    for chunk in (7, 65536):
        done = template.zeros_like()
        done.blocks = half.blocks.clone()
        done.add_transposed_partners(chunk=chunk)
        torch.testing.assert_close(done.blocks, expected, rtol=0, atol=0)
        torch.testing.assert_close(done.blocks[torch.as_tensor(partner)], done.blocks.transpose(1, 2), rtol=0, atol=0)
