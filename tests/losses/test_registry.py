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


def test_a_users_terms_take_the_gauge_and_the_auxiliary_role_by_declaring_them(real_batch):
    batch, layout = real_batch
    config = {"imports": ["tests.losses.custom_terms"], "trace_balance": 0.5,
              "terms": {"gauge_l1_for_tests": {"weight": 1.0}, "trace_for_tests": {"weight": 1.0}}}
    loss = CompositeLoss.from_config(config)
    assert loss.gauge_weights() == (1.0, 0.0, 0.0)
    assert list(loss.auxiliary_terms) == ["trace_for_tests"]
    delta = batch.delta_hamiltonian + 0.05 * batch.overlap  # ΔĤ off by a rigid shift μS, μ = 50 meV
    total, parts, context = loss(prediction(delta, layout), batch)
    assert torch.allclose(context.mu, torch.full_like(context.mu, 0.05), atol=1e-9)  # the gauge removes it
    assert float(parts["gauge_l1_for_tests"]) < 1e-9
    # balanced: (1 − λ) L_H + λ · (L_H / L_T) · L_T = L_H numerically
    assert float(total) == pytest.approx(float(parts["gauge_l1_for_tests"]), abs=1e-12)
    with pytest.raises(ValueError, match="role must be one of"):
        type("Bad", (LossTerm,), {"role": "other"})()
