"""The domain check: statistics recomputed by hand, the verdicts, the flag table, and `nextham domain`
on the embedded run (training atoms in the domain, a squeezed crystal out of it)."""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nextham.evaluate.domain import MARGIN, SCALE_FLOOR, DomainStatistics, flag_table

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "embedded_run"


def test_statistics_are_per_element_standardised_distances_with_a_percentile_edge():
    rng = np.random.default_rng(0)
    silicon = rng.normal(1.0, 0.5, size=(400, 3))
    carbon = rng.normal(-2.0, 0.1, size=(200, 3))
    statistics = DomainStatistics.fit({"Si": silicon, "C": carbon})
    floor = SCALE_FLOOR * np.concatenate([silicon, carbon]).std(axis=0)
    scale = np.sqrt(silicon.var(axis=0) + floor ** 2)
    distances = np.sqrt((((silicon - silicon.mean(0)) / scale) ** 2).mean(1))
    assert statistics.elements["Si"]["threshold"] == pytest.approx(MARGIN * distances.max())
    np.testing.assert_allclose(statistics.elements["Si"]["scale"], scale)
    # every training atom lies inside, the farthest at 1/MARGIN of the edge
    assert statistics.atom_scores(["Si"] * 400, silicon).max() == pytest.approx(1 / MARGIN)

    near = statistics.assess(["Si", "C"], [silicon.mean(0), carbon.mean(0)])
    assert near["in_domain"] and near["domain_score"] < 0.5 and near["domain_reason"] == ""
    far = statistics.assess(["Si", "C"], [silicon.mean(0), carbon.mean(0) + 5.0])
    assert not far["in_domain"] and far["domain_score"] > 1.0 and far["domain_reason"].startswith("atom 1 (C) lies")
    unseen = statistics.assess(["Si", "Ge"], [silicon.mean(0), silicon.mean(0)])
    assert not unseen["in_domain"] and unseen["domain_score"] is None and unseen["domain_reason"] == "Ge in no training structure"
    assert DomainStatistics.from_dict(json.loads(json.dumps(statistics.to_dict()))).elements == statistics.elements


def test_flag_table_counts_harm_found_and_false_alarms():
    rows = [(False, 2.0, 1.0), (True, 2.0, 1.0), (False, 0.5, 1.0), (True, 0.5, 1.0), (True, 0.4, 1.0)]
    table = flag_table(rows)
    assert (table["harmed_flagged"], table["harmed_unflagged"], table["helped_flagged"], table["helped_unflagged"]) == (1, 1, 1, 2)
    assert table["harm_found"] == 0.5 and table["false_alarms"] == pytest.approx(1 / 3)


@pytest.mark.slow
def test_domain_command_calibrates_the_checkpoint_and_predict_flags_a_squeezed_crystal(tmp_path, capsys):
    import torch
    from ase.build import bulk
    from ase.io import write

    from nextham.cli.main import main
    from nextham.configs import CONFIG_ROOT
    from nextham.predict import Predictor

    checkpoint = tmp_path / "last.ckpt"
    with gzip.open(FIXTURE / "last.ckpt.gz") as source, open(checkpoint, "wb") as target:
        shutil.copyfileobj(source, target)
    arguments = ["--config", str(CONFIG_ROOT / "fit.yaml"), f"output={tmp_path / 'run'}", "--ckpt", str(checkpoint)]
    assert main(["domain", *arguments, "--split", "train"]) == 0
    assert "domain" in torch.load(checkpoint, map_location="cpu", weights_only=False)
    report = json.loads((tmp_path / "run" / "domain" / "report.json").read_text())
    rows = report["per_structure"]
    assert len(rows) == report["structures"] and all("in_domain" in row for row in rows)
    # the structures the statistics were fitted on lie in the domain
    assert all(row["in_domain"] for row in rows) and max(row["domain_score"] for row in rows) <= 1 / 1.1 + 1e-9
    table = report["domain"]
    assert sum(table[k] for k in ("harmed_flagged", "harmed_unflagged", "helped_flagged", "helped_unflagged")) == len(rows)
    assert "Domain check" in (tmp_path / "run" / "domain" / "report.md").read_text()

    predictor = Predictor(checkpoint)
    assert predictor(bulk("Si", "diamond", a=5.431)).summary()["in_domain"]
    squeezed = predictor(bulk("Si", "diamond", a=4.3)).summary()  # bonds 21 % shorter than any trained
    assert squeezed["in_domain"] is False and squeezed["domain_score"] > 1.0
    write(tmp_path / "squeezed.cif", bulk("Si", "diamond", a=4.3))
    capsys.readouterr()
    assert main(["predict", "--ckpt", str(checkpoint), "--structure", str(tmp_path / "squeezed.cif"),
                 "--out", str(tmp_path / "out")]) == 0
    assert "squeezed is outside the model's domain (atom" in capsys.readouterr().err
