"""A checkpoint written before the package was reorganised loads and predicts what it predicted then."""
import gzip
import shutil
from pathlib import Path

import numpy as np

from nextham.configs import CONFIG_ROOT, load_config
from nextham.evaluate.predictions import predicted_records
from nextham.train import build_datamodule, load_module

FIXTURE = Path(__file__).parent.parent / "fixtures" / "embedded_run"


def test_an_old_checkpoint_of_the_embedded_run_predicts_as_it_did(tmp_path):
    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    config = load_config(CONFIG_ROOT / "fit.yaml", [f"output={tmp_path}"])
    data = build_datamodule(config)
    module = load_module(config, data, [checkpoint])
    expected = np.load(FIXTURE / "prediction_val.npz")
    corrections = {record.label: (record.hamiltonian - original.hamiltonian_0, original.hamiltonian_0)
                   for record, original in predicted_records(module, data, "val")}
    assert sorted(corrections) == sorted(expected.files)
    for label, (correction, hamiltonian_0) in corrections.items():
        expected_correction = expected[label] - hamiltonian_0
        assert np.abs(expected_correction).max() > 5e-3  # the members' ΔĤ, meV-sized: an untrained net differs
        np.testing.assert_allclose(correction, expected_correction, rtol=0, atol=1e-5, err_msg=label)
