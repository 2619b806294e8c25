"""A typo in a training config is a one-line error naming the key and the nearest valid one."""
import pytest

from nextham.cli.main import main
from nextham.configs import load_config
from nextham.configs.schema import check_training_config


@pytest.mark.parametrize("name", ["fit", "bench", "bench2"])
def test_the_packaged_training_configs_pass(name):
    assert check_training_config(load_config(name)) == load_config(name)


@pytest.mark.parametrize("override, message", [
    ("trainer.max_epoch=1", "unknown config key trainer.max_epoch; did you mean trainer.max_epochs?"),
    ("model.hidden_irreps=banana", "unknown config key model.hidden_irreps; model holds members, member_output_units, network"),
    ("data.edge_budgt=3", "unknown config key data.edge_budgt; did you mean data.edge_budget?"),
    ("model.network.num_layer=3", "unknown config key model.network.num_layer; did you mean model.network.num_layers?"),
    ("callbacks.kspace.kmseh=[2,2,2]", "unknown config key callbacks.kspace.kmseh; did you mean callbacks.kspace.kmesh?"),
    ("outptu=runs/x", "unknown config key outptu; did you mean output?"),
    ("model.network.hidden_multiplicities=banana",
     "config key model.network.hidden_multiplicities must be a mapping like {0: 16, 1: 8, 2: 4, ...}, not 'banana'"),
    ("optimizer.lr=fast", "config key optimizer.lr must be a number like 0.003, not 'fast'"),
    ("callbacks.kspace.plot=maybe", "config key callbacks.kspace.plot must be true or false, not 'maybe'"),
])
def test_a_typo_stops_the_command_before_anything_runs(tmp_path, capsys, override, message):
    assert main(["fit", "--config", "fit", f"output={tmp_path / 'run'}", override]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"nextham: error: {message}"]
    assert not (tmp_path / "run").exists()
