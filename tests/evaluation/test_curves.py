"""Accuracy curves (adversarial, Gaussian noise), band statistics, plots and the report writer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from pysciml.datasets import moons
from pysciml.errors import ValidationError
from pysciml.evaluation import (
    AccuracyCurve,
    accuracy,
    adversarial_curve,
    curve_band,
    decision_boundary_distance,
    noise_curve,
    plot_accuracy_curves,
    plot_boundary_distances,
    robustness_report,
)
from pysciml.models import MLPVectorField, NeuralODEClassifier


@pytest.fixture(scope="module")
def trained():
    data = moons(n_train=400, n_test=200, noise=0.1, dtype=torch.float64)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    opt = torch.optim.Adam(model.parameters(), 3e-2)
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(data.x_train), data.y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.grad = None
    return model, data


def test_noise_curve_at_zero_is_clean_accuracy(trained) -> None:
    model, data = trained
    clean = accuracy(model, *data.test)
    assert clean > 0.95
    curve = noise_curve(model, *data.test, [0.0, 0.1, 0.5, 2.0], n_draws=4, seed=3)
    assert curve.accuracy.shape == (4, 4) and np.all(curve.accuracy[0] == clean)
    assert curve.mean[-1] < curve.mean[1] <= clean + 1e-12  # heavy noise destroys the classification
    assert curve.std[0] == 0.0 and curve.std[-1] > 0
    again = noise_curve(model, *data.test, [0.0, 0.1, 0.5, 2.0], n_draws=4, seed=3)
    assert np.array_equal(again.accuracy, curve.accuracy)
    assert not np.array_equal(noise_curve(model, *data.test, [0.5], n_draws=4, seed=4).accuracy,
                              curve.accuracy[2:3])


@pytest.mark.parametrize("attack", ["fgsm", "pgd-linf", "pgd-l2"])
def test_adversarial_curve(trained, attack: str) -> None:
    model, data = trained
    curve = adversarial_curve(model, *data.test, [0.0, 0.1, 0.3], attack=attack)
    assert curve.accuracy.shape == (3, 1) and curve.accuracy[0, 0] == accuracy(model, *data.test)
    assert np.all(np.diff(curve.mean) <= 0) and curve.mean[-1] < curve.mean[0]
    assert curve.to_dict()["kind"] == attack


def test_pgd_is_at_least_as_strong_as_fgsm(trained) -> None:
    model, data = trained
    eps = [0.15, 0.3]
    f = adversarial_curve(model, *data.test, eps, attack="fgsm").mean
    p = adversarial_curve(model, *data.test, eps, attack="pgd-linf", steps=20, random_start=False).mean
    assert np.all(p <= f + 1e-12)


def test_curve_validation(trained) -> None:
    model, data = trained
    with pytest.raises(ValidationError, match="epsilons"):
        adversarial_curve(model, *data.test, [0.1, -0.1])
    with pytest.raises(ValidationError, match="sigmas"):
        noise_curve(model, *data.test, [])
    with pytest.raises(ValidationError, match="PGD"):
        adversarial_curve(model, *data.test, [0.1], attack="fgsm", steps=3)
    assert all(p.grad is None for p in model.parameters())


def test_curve_band_over_seeds() -> None:
    levels = np.array([0.0, 1.0])
    runs = [AccuracyCurve("fgsm", levels, np.array([[1.0], [0.5]])),
            AccuracyCurve("fgsm", levels, np.array([[0.8], [0.3]]))]
    lv, mean, std = curve_band(runs)
    np.testing.assert_allclose(mean, [0.9, 0.4])
    np.testing.assert_allclose(std, [np.std([1.0, 0.8], ddof=1), np.std([0.5, 0.3], ddof=1)])
    one = AccuracyCurve("gaussian", levels, np.array([[1.0, 1.0], [0.2, 0.4]]))
    np.testing.assert_allclose(curve_band([one])[2], [0.0, np.std([0.2, 0.4], ddof=1)])
    with pytest.raises(ValidationError, match="same perturbation levels"):
        curve_band([runs[0], AccuracyCurve("fgsm", levels + 1, np.ones((2, 1)))])


def test_plots(tmp_path) -> None:
    levels = np.linspace(0, 1, 5)
    curves = {"a": [AccuracyCurve("fgsm", levels, np.linspace(1, 0, 5)[:, None])]}
    assert plot_accuracy_curves(curves, tmp_path / "c.png", xlabel="ε").stat().st_size > 1000
    assert plot_boundary_distances({"a": np.array([0.1, 0.2, 0.3])}, tmp_path / "b.png").stat().st_size > 1000
    with pytest.raises(ValidationError):
        plot_boundary_distances({}, tmp_path / "x.png")


def test_report_writes_json_and_figures(trained, tmp_path) -> None:
    model, data = trained
    x, y = data.test
    rep = robustness_report(model, x, y, tmp_path / "rob", epsilons=[0, 0.1, 0.2], sigmas=[0, 0.2],
                            n_draws=2, n_directions=16, boundary_points=30, progress=False, label="mlp")
    files = sorted(p.name for p in (tmp_path / "rob").iterdir())
    assert files == ["adversarial.png", "boundary_distance.png", "noise.png", "robustness.json"]
    on_disk = json.loads((tmp_path / "rob" / "robustness.json").read_text())
    assert on_disk == json.loads(json.dumps(rep))
    assert on_disk["clean_accuracy"] == on_disk["noise"]["mean"][0] == on_disk["adversarial"]["fgsm"]["mean"][0]
    assert set(on_disk["adversarial"]) == {"fgsm", "pgd-linf"}
    bd = on_disk["boundary_distance"]
    assert len(bd["distance"]) == 30 and bd["summary"]["n"] <= 30 and bd["relative_bias_95"] > 0
    assert len(set(bd["indices"])) == 30


@pytest.mark.parametrize("method, opts", [
    ("dopri5", {"rtol": 1e-5, "atol": 1e-7}), ("rk4", {"step_size": 0.25}),
    ("rosenbrock23", {"rtol": 1e-4, "atol": 1e-6}), ("dopri5", {"adjoint": True}),
])
def test_neural_ode_classifier_any_solver(method: str, opts: dict) -> None:
    data = moons(n_train=8, n_test=8, dtype=torch.float64)
    x, y = data.test
    torch.manual_seed(0)
    model = NeuralODEClassifier(MLPVectorField(2, hidden=8, layers=1), 2, method=method, **opts).double()
    model.train()
    curve = adversarial_curve(model, x, y, [0.0, 0.2], attack="pgd-linf", steps=2)
    assert curve.accuracy.shape == (2, 1) and curve.accuracy[0, 0] == accuracy(model, x, y)
    dist = decision_boundary_distance(model, x, y, n_directions=4, radii=[0.5, 1.0, 2.0], rtol=1e-2)
    assert dist.distance.shape == (8,) and bool((dist.distance > 0).all())
    assert model.training and all(p.grad is None for p in model.parameters())
