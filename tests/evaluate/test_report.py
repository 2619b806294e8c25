"""Exported predictions: every stored pair, in the input's order and representation, read back by the
project's own DeepH reader; with the true ΔH in place of the model's the bands are the DFT's."""
import json

import numpy as np
import pytest
import torch

from nextham.data.datamodule import HamiltonianDataModule
from nextham.io.deeph import read_deeph, write_deeph
from nextham.io.shards import ShardedDataset
from nextham.metrics import BandMetrics, GaugeMAE
from nextham.kspace import monkhorst_pack
from nextham.evaluate.predictions import save_predictions
from nextham.conventions import units


class TrueCorrection(torch.nn.Module):
    """Stands in for the ensemble with ΔĤ = ΔH (H(T) − H(0)) on every pair it is given."""

    member_names = ()

    def forward(self, batch):
        return {"hamiltonian": batch.hamiltonian_0 + batch.delta_hamiltonian,
                "member_of_edge": torch.full((batch.hamiltonian.shape[0],), -1, dtype=torch.long)}


@pytest.fixture(scope="module")
def data():
    return HamiltonianDataModule(max_edge_length_angstrom=6.0)  # spinful: the set holds CsI


def test_exported_prediction_reads_back_pair_for_pair_and_gives_the_dft_bands(tmp_path, data, embedded):
    gaps = save_predictions(TrueCorrection(), data, "val", tmp_path / "shards", deeph_folder=tmp_path / "deeph")
    labels = embedded.split_labels("val")
    assert {r.spinful for r in map(embedded.read, labels)} == {True, False}
    for label in labels:
        reference = embedded.read(label)
        write_deeph(tmp_path / "reference" / label, reference, embedded.basis)
        predicted, _ = read_deeph(tmp_path / "deeph" / "dft" / label, hamiltonian_name="hamiltonian_pred.h5")
        expected, _ = read_deeph(tmp_path / "reference" / label)
        # each structure as what it is: a spinless crystal of a dataset with spin–orbit ones stays spinless
        info = json.loads((tmp_path / "deeph" / "dft" / label / "info.json").read_text())
        assert info["spinful"] == reference.spinful == predicted.spinful
        assert info["occupation"] == reference.num_electrons
        # every stored pair (934 for SiC, not the 178 of a 6 Å graph), in the reference's order
        assert predicted.num_edges == reference.num_edges
        np.testing.assert_array_equal(predicted.edge_index, expected.edge_index)
        np.testing.assert_array_equal(predicted.cell_shifts, expected.cell_shifts)
        np.testing.assert_allclose(predicted.hamiltonian, expected.hamiltonian, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(predicted.overlap, expected.overlap)  # S is never cut
        # bands of the exported Ĥ are the DFT code's own at its k-points (the 1e-5 Ha check)
        bands = predicted.eigenvalues(reference.reference_kpoints)
        dft = np.sort(reference.reference_eigenvalues, axis=1)
        assert bands.shape == dft.shape and np.abs(bands - dft).max() <= 1e-5 * units.HARTREE_TO_EV
        # the exact correction has the DFT Hamiltonian's E_F (both converged on the same mesh)
        assert predicted.fermi_energy == pytest.approx(reference.occupation()["fermi_energy"], abs=1e-3)
        # DeepH-dock's band, Fermi and DOS commands read hamiltonian.h5: it is Ĥ, and so is hamiltonian_pred.h5
        as_read, _ = read_deeph(tmp_path / "deeph" / "dft" / label)
        np.testing.assert_array_equal(as_read.hamiltonian, predicted.hamiltonian)
        assert (tmp_path / "deeph" / "dft" / label / "K_PATH").exists()
    assert sorted(g["label"] for g in gaps) == sorted(labels)
    assert all(abs(g["predicted_gap_ev"] - g["true_gap_ev"]) < 1e-3 for g in gaps)
    shards = ShardedDataset(tmp_path / "shards")
    assert [shards.read(label).num_edges for label in labels] == [embedded.read(label).num_edges for label in labels]


def test_metrics_score_the_whole_stored_hamiltonian(data):
    """The truth of every metric is the full stored H(T): the exact correction scores zero band error
    and zero Gauge MAE, and a batch holds every stored pair."""
    gauge, bands = GaugeMAE(), BandMetrics(p_window_ev=3.0)
    oracle = TrueCorrection()
    for batch in data.loader("val"):
        prediction = oracle(batch)
        gauge.update(prediction["hamiltonian"], batch)
        bands.update(prediction["hamiltonian"], batch, monkhorst_pack((2, 2, 2)))
    report, band_report = gauge.compute(), bands.compute()
    assert report["pairs"] == sum(data.dataset.read(label).num_edges for label in data.dataset.split_labels("val"))
    assert report["gauge_mae_mev"] < 1e-9 and band_report["band_mae_mev"] < 1e-6 and band_report["ghost_states"] == 0
