"""Decision-boundary distance: exact on linear classifiers within the stated estimator bias, bias formula
against Monte Carlo, censoring, determinism, no side effects."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pysciml.errors import ValidationError
from pysciml.evaluation import decision_boundary_distance, sphere_search_bias
from pysciml.models import NeuralODEClassifier, StableNODE


def _linear(d: int, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(d, 2).double()


def _true_distance(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """|w·x + b| / ‖w‖ for the two-class boundary w = w1 − w0, b = b1 − b0."""
    wd, bd = w[1] - w[0], b[1] - b[0]
    return ((x @ wd + bd).abs() / wd.norm()).detach()


@pytest.mark.parametrize("d, k", [(2, 64), (5, 400)])
def test_linear_classifier_distance(d: int, k: int) -> None:
    model = _linear(d)
    x = torch.randn(60, d, dtype=torch.float64)
    rtol = 1e-4
    res = decision_boundary_distance(model, x, n_directions=k, radii=np.linspace(0.25, 6, 24), rtol=rtol, seed=1)
    true = _true_distance(model.weight, model.bias, x)
    assert not bool(res.censored.any())
    # a label change is never found below the true distance (smaller spheres lie on one side of the hyperplane),
    # and the bracket [distance, upper] is rtol-narrow ...
    assert bool((res.upper >= true * (1 - 1e-12)).all()) and bool((res.distance >= true * (1 - rtol)).all())
    # ... and above it by at most the sphere-sampling bias (per-point quantile 1 − 1e-4) plus the bracket width
    eta = sphere_search_bias(d, k, confidence=1 - 1e-4)
    assert bool((res.upper <= true * (1 + eta) * (1 + 1e-9)).all())
    assert bool(((res.upper - res.distance) <= rtol * res.upper + 1e-15).all())
    # the ray that crossed: t = D / cos θ with θ the angle between the direction and the boundary normal
    normal = (model.weight[1] - model.weight[0]).detach()
    side = torch.sign(x @ normal + (model.bias[1] - model.bias[0]).detach())
    cos = -(res.direction @ normal) * side / normal.norm()
    torch.testing.assert_close(res.upper, true / cos, rtol=2 * rtol, atol=0)
    print(f"d={d} K={k}: max relative overestimate {float((res.distance / true - 1).max()):.2e}, bound {eta:.2e}")


def test_linear_neural_ode_classifier_distance() -> None:
    field = StableNODE(2, "leaky_relu", alpha=1.0).double()  # logits = W e^{A} x + c
    model = NeuralODEClassifier(field, num_classes=2, method="rk4", step_size=0.05).double()
    x = torch.randn(12, 2, dtype=torch.float64)
    w_eff = model.head.weight @ torch.linalg.matrix_exp(field.A)
    true = _true_distance(w_eff, model.head.bias, x)
    res = decision_boundary_distance(model, x, n_directions=128, radii=np.linspace(0.5, 20, 40), rtol=1e-5)
    eta = sphere_search_bias(2, 128, confidence=1 - 1e-4)
    assert bool((res.upper >= true * (1 - 1e-6)).all()) and bool((res.distance <= true * (1 + eta)).all())


def test_bias_formula_against_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    d, k, trials = 3, 20, 20000
    u = rng.standard_normal((trials, k, d))
    u /= np.linalg.norm(u, axis=2, keepdims=True)
    overestimate = 1 / u[:, :, 0].max(axis=1) - 1  # flat boundary with normal e_1
    for conf in (0.5, 0.9, 0.99):
        assert np.quantile(overestimate, conf) == pytest.approx(sphere_search_bias(d, k, conf), rel=0.05)
    assert sphere_search_bias(2, 1000) < sphere_search_bias(2, 100) < sphere_search_bias(10, 100)
    with pytest.raises(ValidationError, match="n_directions"):
        sphere_search_bias(50, 2, 0.99)


def test_summary_correct_points_censoring_and_determinism() -> None:
    model = _linear(2, seed=3)
    x = torch.randn(40, 2, dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    a = decision_boundary_distance(model, x, y, n_directions=32, seed=4)
    b = decision_boundary_distance(model, x, y, n_directions=32, seed=4)
    assert torch.equal(a.distance, b.distance)
    correct = (model(x).argmax(1) == y).numpy()
    s = a.summary()
    assert s["n"] == int(correct.sum()) and s["mean"] == pytest.approx(float(a.distance.numpy()[correct].mean()))
    assert a.summary(only_correct=False)["n"] == 40 and s["q1"] <= s["median"] <= s["q3"]
    d = a.to_dict()
    assert len(d["distance"]) == 40 and d["summary"] == s
    # a constant classifier has no boundary: every point is censored at the largest radius
    const = nn.Linear(2, 2).double()
    with torch.no_grad():
        const.weight.zero_()
        const.bias.copy_(torch.tensor([1.0, 0.0]))
    c = decision_boundary_distance(const, x, n_directions=8, radii=[0.5, 1.0])
    assert bool(c.censored.all()) and torch.equal(c.distance, torch.full((40,), 1.0, dtype=torch.float64))
    assert bool(torch.isinf(c.upper).all()) and c.summary()["n_censored"] == 40


def test_no_side_effects_and_bad_input() -> None:
    model = _linear(2)
    model.train()
    x = torch.randn(5, 2, dtype=torch.float64)
    decision_boundary_distance(model, x, n_directions=8)
    assert model.training and all(p.grad is None for p in model.parameters())
    for kwargs in ({"radii": [1.0, 0.5]}, {"radii": [-1.0, 1.0]}, {"rtol": 0.0}, {"n_directions": 0}):
        with pytest.raises(ValidationError):
            decision_boundary_distance(model, x, **kwargs)
    with pytest.raises(ValidationError, match="num_classes"):
        decision_boundary_distance(model, x, torch.full((5,), 2))
