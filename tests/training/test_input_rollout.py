"""Input-driven rollouts and the BKPR / ADJ baseline trainer (Quaglino et al., arXiv:1906.07038, Tables 1–2)."""

from __future__ import annotations

import math

import pytest
import torch

import pysciml.systems as systems
from pysciml.errors import InputTypeError, ValidationError
from pysciml.training import InputRolloutTrainer, rollout_mse, rollout_with_input, simulate_with_inputs


class TrueVehicle(torch.nn.Module):
    """The vehicle's exogenous-input field ``f(t, x, u)`` as a module (no parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.system = systems.get("vehicle")

    def forward(self, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.system.controlled_field(x, u)


class LinearForced(torch.nn.Module):
    """``f(t, x, u) = W x + B u`` (vehicle-sized: 6 states, 2 inputs)."""

    def __init__(self, w: torch.Tensor | None = None) -> None:
        super().__init__()
        self.W = torch.nn.Parameter(torch.zeros(6, 6, dtype=torch.float64) if w is None else w.clone())
        self.B = torch.nn.Parameter(torch.zeros(6, 2, dtype=torch.float64))

    def forward(self, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return x @ self.W.T + u @ self.B.T


@pytest.fixture(scope="module")
def vehicle_data() -> tuple[torch.Tensor, torch.Tensor, object]:
    t = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    y, series = simulate_with_inputs(systems.get("vehicle"), 4, t, seed=0)
    return t, y, series


@pytest.mark.parametrize("lockstep", [True, False])
def test_rollout_of_the_true_field_reproduces_the_ground_truth(vehicle_data, lockstep: bool) -> None:
    t, y, series = vehicle_data
    assert y.shape == (4, 31, 6)
    pred = rollout_with_input(TrueVehicle(), series, y[:, 0], t, lockstep=lockstep)
    assert float((pred - y).abs().max()) < 1e-5
    assert rollout_mse(TrueVehicle(), series, y, t) < 1e-11
    # Euler at the sampling interval: first order, error halves (about) with the step
    e1 = float((rollout_with_input(TrueVehicle(), series, y[:, 0], t, "euler", step_size=0.1) - y).abs().max())
    e2 = float((rollout_with_input(TrueVehicle(), series, y[:, 0], t, "euler", step_size=0.05) - y).abs().max())
    assert 1.7 < e1 / e2 < 2.3


def test_failed_rollout_is_inf_and_ends_training_as_diverged(vehicle_data) -> None:
    t, y, series = vehicle_data
    assert math.isinf(rollout_mse(TrueVehicle(), series, y, t, max_steps=2))
    with pytest.raises(ValidationError, match="did not reach"):
        rollout_with_input(TrueVehicle(), series, y[:, 0], t, max_steps=2)
    trainer = InputRolloutTrainer(LinearForced(), t, y, series, max_steps=2, epochs=3, progress=False)
    result = trainer.fit()
    assert result.status == "diverged" and "rollout failed" in result.diverged_reason


@pytest.mark.parametrize(("method", "adjoint"), [("euler", False), ("dopri5", True)])
def test_backprop_and_adjoint_baselines_decrease_the_loss(vehicle_data, method: str, adjoint: bool) -> None:
    t, y, series = vehicle_data
    model = LinearForced(-torch.eye(6, dtype=torch.float64))
    trainer = InputRolloutTrainer(model, t, y, series, method=method, adjoint=adjoint, epochs=10, lr=2e-2,
                                  progress=False, restore_best=False)
    history = trainer.fit().history
    assert history[-1]["mse_loss"] < 0.7 * history[0]["mse_loss"]


def test_adjoint_gradient_equals_backprop(vehicle_data) -> None:
    t, y, series = vehicle_data
    grads = []
    for adj in (False, True):
        m = LinearForced(-torch.eye(6, dtype=torch.float64))
        loss = (rollout_with_input(m, series, y[:, 0], t, adjoint=adj, rtol=1e-9, atol=1e-11) - y).pow(2).mean()
        grads.append(torch.autograd.grad(loss, m.W)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-8)


def test_bad_input() -> None:
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    with pytest.raises(InputTypeError, match="input exosystem"):
        simulate_with_inputs(systems.get("robertson"), 2, t, seed=0)
    y, series = simulate_with_inputs(systems.get("vehicle"), 2, t, seed=0)
    with pytest.raises(ValidationError, match="samples per trajectory"):
        InputRolloutTrainer(LinearForced(), t[:3], y, series)
    with pytest.raises(InputTypeError, match="FourierSeries"):
        InputRolloutTrainer(LinearForced(), t, y, object())
    with pytest.raises(ValidationError, match="x0 must be"):
        rollout_with_input(LinearForced(), series, y[0, 0], t)
