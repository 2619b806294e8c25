"""Bloch sums against the definition M(k) = Σ_R exp(+2πi k·R) M(R), written out block by block."""
import numpy as np

from nextham.kspace import BlockSums


def _by_definition(record, kind, kpoints, spinor):
    offsets = record.orbital_offsets(spinor=spinor)
    size = offsets[-1]
    result = np.zeros((len(kpoints), size, size), dtype=np.complex128)
    blocks = record.blocks(kind)
    for block, (i, j), shift in zip(blocks, record.edge_index, record.cell_shifts):
        result[:, offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]] += np.exp(2j * np.pi * kpoints @ shift)[:, None, None] * block
    return result


def test_h_and_s_of_spinless_and_spinful_records_equal_the_definition(embedded):
    kpoints = np.random.default_rng(1).random((7, 3))
    for label in ("SiC-zincblende-002", "CsI-cesium_chloride-000"):
        record = embedded.read(label)
        np.testing.assert_allclose(record.matrix_k("hamiltonian", kpoints),
                                   _by_definition(record, "hamiltonian", kpoints, record.spinful), atol=1e-12)
        np.testing.assert_allclose(record.matrix_k("overlap", kpoints), _by_definition(record, "overlap", kpoints, False),
                                   atol=1e-12)
        # several matrices on the same pairs share their phases and give the same sums one by one
        pair = BlockSums([record.blocks("overlap"), record.blocks("overlap")], record.edge_index,
                         record.cell_shifts, record.orbital_offsets())(kpoints)
        np.testing.assert_array_equal(pair[0], pair[1])
        np.testing.assert_allclose(pair[0], record.matrix_k("overlap", kpoints), atol=1e-14)


def test_eigenvalues_in_chunks_equal_one_call(embedded, monkeypatch):
    import nextham.record

    record = embedded.read("SiC-zincblende-002")
    kpoints = np.random.default_rng(2).random((9, 3))
    whole = record.eigenvalues(kpoints)
    monkeypatch.setattr(nextham.record, "EIGENVALUE_CHUNK_BYTES", 1)  # one k-point per chunk
    np.testing.assert_allclose(record.eigenvalues(kpoints), whole, atol=1e-12)
