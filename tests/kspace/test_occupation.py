"""Fermi level and gap from the electron count (mid-gap for insulators, smearing for metals)."""
import numpy as np
import pytest

from nextham.kspace import occupation_summary


def test_an_insulator_gets_its_fermi_level_mid_gap():
    bands = np.array([[-3.0, 1.0, 4.0, 6.0], [-2.5, 1.2, 3.5, 7.0]])  # two k-points
    summary = occupation_summary(bands, num_electrons=4, spinful=False)  # two bands full
    assert summary["vbm"] == 1.2 and summary["cbm"] == 3.5 and not summary["metallic"]
    assert summary["fermi_energy"] == pytest.approx(2.35) and summary["band_gap"] == pytest.approx(2.3)
    spinor = occupation_summary(bands, num_electrons=2, spinful=True)  # a spinor band holds one electron
    assert spinor["occupied_bands"] == 2 and spinor["fermi_energy"] == pytest.approx(2.35)


def test_a_metal_holds_its_electron_count_under_smearing():
    bands = np.array([[-3.0, 0.5, 4.0], [-2.5, -0.5, 3.5], [-2.0, 1.5, 3.0]])  # band 2 crosses E_F
    summary = occupation_summary(bands, num_electrons=3, spinful=False, smearing_ev=0.05)
    assert summary["metallic"] and summary["band_gap"] == 0.0
    mu, width = summary["fermi_energy"], 0.05
    count = 2 * np.mean(0.5 * (1 - np.tanh((bands - mu) / (2 * width))), axis=0).sum()
    assert count == pytest.approx(3.0, abs=1e-8)
    assert -0.5 < mu < 1.5


def test_unknown_or_impossible_counts():
    assert np.isnan(occupation_summary(np.zeros((1, 2)), float("nan"), False)["fermi_energy"])
    with pytest.raises(ValueError, match="do not fit"):
        occupation_summary(np.zeros((1, 2)), 6, False)


def test_every_embedded_structure_counts_its_electrons_below_the_fermi_level(embedded):
    """What DeepH-dock does with info.json: count the states below E_F. With E_F at the VBM (as
    before) rounding put the VBM above E_F in about half the insulators and called them metals."""
    for record in embedded:
        assert record.num_electrons in (8, 16)
        per_band = 1 if record.spinful else 2
        energies = record.reference_eigenvalues
        below = (energies < record.fermi_energy).sum(axis=1) * per_band
        assert (below == record.num_electrons).all(), record.label
        # the stored blocks give the same gap as the DFT code's own eigenvalues (to the 1e-5 Ha check)
        assert record.occupation()["band_gap"] == pytest.approx(record.metadata["band_gap_ev"], abs=3e-4)
        cbm = np.sort(energies, axis=1)[:, int(record.num_electrons) // per_band].min()
        assert cbm - record.fermi_energy == pytest.approx(record.metadata["band_gap_ev"] / 2, abs=1e-9)
