import pytest
import torch

from nextham.losses import LOSSES, CompositeLoss, LossTerm, build_terms, register_loss
from tests.losses.conftest import hermitian_noise, prediction

pytestmark = pytest.mark.usefixtures("float64")


def test_a_users_term_plugs_in_through_the_config(real_batch):
    batch, layout = real_batch
    config = {"imports": ["tests.losses.custom_terms"], "terms": {"onsite_l1_for_tests": {"weight": 2.0},
                                                                  "rspace_mse": {"weight": 1.0}}}
    loss = CompositeLoss.from_config(config)
    assert "onsite_l1_for_tests" in LOSSES
    delta = batch.delta_hamiltonian + hermitian_noise(batch, 1e-2)
    total, parts, _ = loss(prediction(delta, layout), batch)
    assert parts["onsite_l1_for_tests"] > 0
    assert float(total) == pytest.approx(2.0 * float(parts["onsite_l1_for_tests"]) + float(parts["rspace_mse"]))


def test_unknown_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown loss term 'nope'"):
        build_terms({"terms": {"nope": {}}})
    with pytest.raises(ValueError, match="already registered"):
        @register_loss("rspace_mse")
        class Another(LossTerm):
            pass
    with pytest.raises(ValueError, match="no terms"):
        build_terms({"terms": {}})
