"""Configs are the one source of truth: the code's defaults equal what configs/ shows."""
import inspect

import pytest

from nextham.config import CONFIG_ROOT, load_config
from nextham.data.datamodule import HamiltonianDataModule
from nextham.data.pyscf_engine import PySCFSettings


def test_datamodule_defaults_are_the_config():
    config = load_config(CONFIG_ROOT / "data" / "datamodule.yaml")
    parameters = inspect.signature(HamiltonianDataModule.__init__).parameters
    assert set(config) == set(parameters) - {"self"}
    for name, value in config.items():
        assert parameters[name].default == value, name


def test_engine_defaults_are_the_generate_config():
    engine = load_config(CONFIG_ROOT / "data" / "generate.yaml")["engine"]
    assert PySCFSettings.from_dict(engine).to_dict() == PySCFSettings().to_dict()


@pytest.mark.parametrize("name", ["generate.yaml", "embedded.yaml"])
def test_generation_configs_expand(name):
    from nextham.data.generate import structure_specs

    config = load_config(CONFIG_ROOT / "data" / name, ["seed=3"])
    specs = structure_specs(config)
    assert config["seed"] == 3 and len(specs) == sum(int(e.get("variants", 1)) for e in config["library"])
