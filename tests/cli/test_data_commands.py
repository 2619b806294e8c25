import json

from nextham.cli.main import main
from nextham.io.shards import ShardedDataset


def test_inspect_embedded_dataset_passes_its_checks(capsys, tmp_path):
    assert main(["data", "inspect", "--json", str(tmp_path / "summary.json")]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "H(0) gauge MAE" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["all_checks_passed"] and len(summary["structures"]) == summary["counts"]["structures"]


def test_convert_round_trip_from_the_command_line(tmp_path, embedded):
    assert main(["data", "convert", str(embedded.root), str(tmp_path / "deeph"), "--from", "shards",
                 "--to", "deeph"]) == 0
    assert main(["data", "convert", str(tmp_path / "deeph"), str(tmp_path / "back"), "--from", "deeph",
                 "--to", "shards"]) == 0
    assert sorted(ShardedDataset(tmp_path / "back").labels) == sorted(embedded.labels)


def test_generate_reports_a_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(f"output: {tmp_path / 'out'}\nlibrary:\n"
                      "  - {prototype: nosuch, elements: [Si, Si], parameters: {a: 5.4}}\n")
    assert main(["data", "generate", "--config", str(config)]) == 2
    assert "unknown prototype 'nosuch'" in capsys.readouterr().err
    assert main(["data", "inspect", str(tmp_path / "nowhere")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
