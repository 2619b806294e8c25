"""Every term: zero for a perfect prediction, growing with a planted error; the gauge; the PQ term."""
import pytest
import torch

from nextham.configs import CONFIG_ROOT, load_config
from nextham.losses import LOSSES, CompositeLoss, build_terms
from tests.losses.conftest import hermitian_noise, planted_ghost, prediction

pytestmark = pytest.mark.usefixtures("float64")

BUILT_IN = ["rspace_mse", "rspace_l1", "rspace_gauge_l1", "kspace_p", "kspace_q", "kspace_pq", "tracegrad"]


# the minimal-basis test data have all bands within 10 eV of E_F: a 3 eV P window leaves a Q subspace
KSPACE = {"kmesh": [2, 2, 2], "num_kpoints": 2, "window_ev": 3.0}


def evaluate(name, batch, layout, delta, trace_of=None, weights=None):
    terms = {name: {"weight": 1.0}}
    if weights:
        terms = {**weights, **terms}
    loss = CompositeLoss(build_terms({"terms": terms}), trace_balance=0.0, kspace=KSPACE)
    _, parts, context = loss(prediction(delta, layout, trace_of), batch, generator=torch.Generator().manual_seed(0))
    return float(parts[name]), context


@pytest.mark.parametrize("name", BUILT_IN)
def test_zero_when_perfect_and_growing_with_error(real_batch, name):
    batch, layout = real_batch
    truth = batch.delta_hamiltonian
    perfect, _ = evaluate(name, batch, layout, truth.clone())
    assert perfect == pytest.approx(0.0, abs=1e-12)
    small, _ = evaluate(name, batch, layout, truth + hermitian_noise(batch, 1e-3), trace_of=truth + hermitian_noise(batch, 1e-3))
    large, _ = evaluate(name, batch, layout, truth + hermitian_noise(batch, 1e-2), trace_of=truth + hermitian_noise(batch, 1e-2))
    assert 0.0 < small < large


def test_gauge_makes_a_constant_shift_free(real_batch):
    batch, layout = real_batch
    shifted = batch.delta_hamiltonian + 0.37 * batch.overlap
    weights = {"rspace_gauge_l1": {"weight": 0.99955}, "kspace_p": {"weight": 2e-4}, "kspace_q": {"weight": 1e-4}}
    for name in ("rspace_gauge_l1", "kspace_p", "kspace_q", "kspace_pq"):
        value, context = evaluate(name, batch, layout, shifted, weights=weights)
        assert value == pytest.approx(0.0, abs=1e-9), name
    torch.testing.assert_close(context.mu, torch.full_like(context.mu, 0.37))
    assert evaluate("rspace_mse", batch, layout, shifted)[0] > 1e-5  # a plain MSE does see the shift


def test_planted_pq_coupling_is_penalised(real_batch):
    batch, layout = real_batch
    truth = batch.delta_hamiltonian
    clean, _ = evaluate("kspace_pq", batch, layout, truth.clone())
    planted, context = evaluate("kspace_pq", batch, layout, truth + planted_ghost(batch))
    assert clean == pytest.approx(0.0, abs=1e-12) and planted > 1e-2
    assert context.kspace[0]["n_p"] >= 1 and context.kspace[0]["n_q"] >= 1


def test_default_config_and_trace_balance(real_batch):
    batch, layout = real_batch
    loss = CompositeLoss.from_config(load_config(CONFIG_ROOT / "loss" / "nextham.yaml"))
    assert set(loss.terms) | {"tracegrad"} == {"rspace_gauge_l1", "kspace_p", "kspace_q", "kspace_pq", "tracegrad"}
    assert loss.trace_balance == 0.2 and loss.gauge_weights() == pytest.approx((0.99955, 2e-4, 1e-4))
    truth = batch.delta_hamiltonian
    noisy = truth + hermitian_noise(batch, 1e-2)
    total, parts, _ = loss(prediction(noisy, layout, trace_of=truth + hermitian_noise(batch, 1e-1, seed=5)), batch,
                           generator=torch.Generator().manual_seed(0))
    hamiltonian_loss = sum(loss.terms[n].weight * parts[n] for n in loss.terms)
    # the balance gives the trace term the magnitude of the Hamiltonian loss: total = L_H numerically
    assert float(total) == pytest.approx(float(hamiltonian_loss), rel=1e-9)
    assert set(LOSSES) >= set(BUILT_IN)


def test_the_bench_recipes_gauge_anchor_holds_the_level_at_zero(real_batch):
    """The gauge-aware terms are blind to ΔĤ + cS, so nothing holds a member at any level c; the bench
    recipe's weak plain L1 does: the shifted truth costs something with it and nothing without it, and
    the gauge μ itself is still the gauge terms' alone."""
    batch, layout = real_batch
    config = load_config("bench")["loss"]
    assert config["terms"]["rspace_l1"]["weight"] > 0
    without = {**config, "terms": {n: t for n, t in config["terms"].items() if n != "rspace_l1"}}
    shifted = prediction(batch.delta_hamiltonian + 0.37 * batch.overlap, layout, trace_of=batch.delta_hamiltonian)
    totals = {}
    for name, options in (("with", config), ("without", without)):
        loss = CompositeLoss.from_config({**options, "trace_balance": 0.0})
        total, parts, context = loss(shifted, batch, generator=torch.Generator().manual_seed(0))
        totals[name] = float(total)
        torch.testing.assert_close(context.mu, torch.full_like(context.mu, 0.37))
    assert totals["without"] == pytest.approx(0.0, abs=1e-9)
    # what the anchor sees is its weight times the mean |0.37 S| over the structures' orbitals
    expected = config["terms"]["rspace_l1"]["weight"] * float(context.per_structure_mean((0.37 * batch.overlap).abs()))
    assert totals["with"] == pytest.approx(expected, rel=1e-9) and expected > 0
