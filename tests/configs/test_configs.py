"""Configs are the one source of truth: the code's defaults equal what configs/ shows."""
import inspect

import pytest

from nextham.configs import CONFIG_ROOT, load_config
from nextham.dft.engine_rules import packaged_rules, resolve_engine_settings
from nextham.data.datamodule import HamiltonianDataModule
from nextham.dft.engine_settings import PySCFSettings


def test_datamodule_defaults_are_the_config():
    config = load_config(CONFIG_ROOT / "data" / "datamodule.yaml")
    parameters = inspect.signature(HamiltonianDataModule.__init__).parameters
    assert set(config) == set(parameters) - {"self"}
    for name, value in config.items():
        assert parameters[name].default == value, name


def test_engine_defaults_are_the_generate_config():
    engine = load_config(CONFIG_ROOT / "data" / "generate.yaml")["engine"]
    assert engine["element_rules"] == packaged_rules()  # the packaged per-element table, by `base:`
    assert PySCFSettings.from_dict(resolve_engine_settings(engine, ())).to_dict() == PySCFSettings().to_dict()


@pytest.mark.parametrize("name", ["generate.yaml", "embedded.yaml", "bench.yaml", "reach.yaml"])
def test_generation_configs_expand_and_every_element_has_an_engine_rule(name):
    from nextham.dft.generate import engine_settings_for, structure_specs

    config = load_config(CONFIG_ROOT / "data" / name, ["seed=3"])
    specs = structure_specs(config)
    assert config["seed"] == 3 and len(specs) == sum(int(e.get("variants", 1)) for e in config["library"])
    for spec in specs:  # raises for an element the packaged table lacks
        PySCFSettings.from_dict(engine_settings_for(spec, config["engine"]))


def test_network_defaults_are_the_model_config():
    from nextham.nn.network import DEFAULT_HIDDEN_MULTIPLICITIES, DEFAULT_TRACEGRAD, NextHAMNet

    config = load_config(CONFIG_ROOT / "model" / "nextham.yaml")
    parameters = inspect.signature(NextHAMNet.__init__).parameters
    assert set(config["network"]) == set(parameters) - {"self", "slot_ls", "spinful_input"}
    resolved = {"hidden_multiplicities": DEFAULT_HIDDEN_MULTIPLICITIES, "tracegrad": DEFAULT_TRACEGRAD}
    for name, value in config["network"].items():
        default = parameters[name].default
        assert (resolved[name] if default is None else default) == value, name
    assert [m["distance_range"] for m in config["members"]] == [[0.0, 1.0], [1.0, 2.0], [2.0, 4.0], [4.0, 6.0]]


def test_loss_defaults_are_the_loss_config():
    from nextham.losses import CompositeLoss
    from nextham.losses.context import DEFAULT_KSPACE

    config = load_config(CONFIG_ROOT / "loss" / "nextham.yaml")
    assert config["kspace"] == DEFAULT_KSPACE
    assert config["trace_balance"] == inspect.signature(CompositeLoss.__init__).parameters["trace_balance"].default


def test_packaged_configs_are_found_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reference = load_config(CONFIG_ROOT / "fit.yaml")
    for name in ("fit", "fit.yaml", "configs/fit.yaml"):
        assert load_config(name) == reference
    copy = tmp_path / "mine.yaml"  # a user's copy keeps finding the packaged sections it builds on
    copy.write_text((CONFIG_ROOT / "fit.yaml").read_text().replace("max_epochs: 40", "max_epochs: 3"))
    assert load_config(copy)["trainer"]["max_epochs"] == 3 and load_config(copy)["model"] == reference["model"]
    with pytest.raises(FileNotFoundError, match="packaged configs .*fit.yaml"):
        load_config("no_such_config")


def test_optimizer_defaults_are_the_optimizer_config():
    from nextham.train.optimizer import optimizer_options

    assert optimizer_options() == load_config("optimizer/adam.yaml")
    assert optimizer_options({"lr": 1.0})["lr"] == 1.0
    assert load_config("fit")["optimizer"]["warmup_epochs"] == 1  # fit.yaml overrides key by key
