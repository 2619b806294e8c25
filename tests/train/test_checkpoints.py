"""A checkpoint written before the package was reorganised loads and predicts what it predicted then."""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nextham.configs import CONFIG_ROOT, load_config
from nextham.evaluate.predictions import predicted_records
from nextham.train import build_datamodule, load_module

FIXTURE = Path(__file__).parent.parent / "fixtures" / "embedded_run"


@pytest.mark.parametrize("exported", [False, True])
def test_an_old_checkpoint_of_the_embedded_run_predicts_as_it_did(tmp_path, exported):
    """The fixture, and its inference-only export (no optimizer state), predict as it did."""
    from nextham.train.checkpoints import export_checkpoint

    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    if exported:
        import torch

        slim = export_checkpoint(checkpoint, tmp_path / "slim" / "model.ckpt")
        assert "optimizer_states" in torch.load(checkpoint, weights_only=False)
        assert "optimizer_states" not in torch.load(slim, weights_only=False)
        assert slim.stat().st_size < checkpoint.stat().st_size
        checkpoint = slim
    config = load_config(CONFIG_ROOT / "fit.yaml", [f"output={tmp_path}"])
    data = build_datamodule(config)
    module = load_module([checkpoint])
    expected = np.load(FIXTURE / "prediction_val.npz")
    corrections = {record.label: (record.hamiltonian - original.hamiltonian_0, original.hamiltonian_0)
                   for record, original in predicted_records(module, data, "val")}
    assert sorted(corrections) == sorted(expected.files)
    for label, (correction, hamiltonian_0) in corrections.items():
        expected_correction = expected[label] - hamiltonian_0
        assert np.abs(expected_correction).max() > 5e-3  # the members' ΔĤ, meV-sized: an untrained net differs
        np.testing.assert_allclose(correction, expected_correction, rtol=0, atol=1e-5, err_msg=label)


def test_a_spin_orbit_checkpoint_tests_spinless_data_and_a_spinless_one_refuses_spin_orbit_data(tmp_path, embedded):
    from nextham.cli.main import main
    from nextham.errors import DataError
    from nextham.graph.datamodule import HamiltonianDataModule
    from nextham.io.shards import DatasetWriter
    from nextham.train.module import NextHAMModule

    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    spinless = [record for record in embedded if not record.spinful][:4]
    writer = DatasetWriter(tmp_path / "spinless", embedded.basis, split_fractions={"test": 1.0})
    writer.append_shard(spinless)
    # trained with CsI (spinful batches); the data here have no spin–orbit structure (spinless batches)
    assert main(["test", "--config", "fit", f"data.root={tmp_path / 'spinless'}", f"output={tmp_path / 'run'}",
                 "callbacks.kspace.kmesh=[1,1,1]", "--ckpt", str(checkpoint)]) == 0
    report = json.loads((tmp_path / "run" / "test" / "report.json").read_text())
    assert report["structures"] == 4 and set(report["spin_blocks"]) == {"spinless"}
    spinless_model = NextHAMModule(slot_ls=(0, 0, 1, 2), spinful=False, model=load_config("model/nextham.yaml"),
                                   loss=load_config("loss/nextham.yaml"))
    with pytest.raises(DataError, match="trained on spinless data and cannot predict spin–orbit"):
        HamiltonianDataModule().set_spinful(spinless_model.hparams.spinful, model="this checkpoint")
