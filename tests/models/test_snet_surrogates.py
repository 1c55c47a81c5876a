"""Structured surrogates of Quaglino et al. (arXiv:1906.07038) §5–6 and the exogenous-input wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pysciml
import pysciml.systems as systems
from pysciml.errors import ValidationError
from pysciml.models import MultiAgentKinematics, VehicleSurrogate, with_input


def test_vehicle_surrogate_structure() -> None:
    torch.manual_seed(0)
    f = VehicleSurrogate(hidden=8)
    assert f.f_C[0].bias is None and f.f_d[0].bias is None and f.f_d[2].bias is None
    x = torch.randn(5, 6, dtype=torch.float64)
    u = torch.randn(5, 2, dtype=torch.float64)
    out = f(torch.zeros(5), x, u)
    assert out.shape == (5, 6)
    # J depends on φ only through sin φ, cos φ: 2π-periodic; position does not enter
    shifted = x.clone()
    shifted[:, 2] += 2 * math.pi
    shifted[:, :2] += 3.0
    torch.testing.assert_close(f(torch.zeros(5), shifted, u), out, rtol=0, atol=1e-12)
    # no bias in d and C: at rest, v' = M⁻¹ u exactly (and η' = 0)
    x[:, 3:] = 0.0
    rest = f(torch.zeros(5), x, u)
    torch.testing.assert_close(rest[:, :3], torch.zeros(5, 3, dtype=torch.float64))
    torch.testing.assert_close(rest[:, 3:], torch.stack([u[:, 0], 0 * u[:, 0], u[:, 1]], 1))
    with pytest.raises(ValidationError, match="expects x"):
        f(torch.zeros(5), x[:, :5], u)


def test_multi_agent_kinematics_reproduces_the_system_with_the_true_matrix() -> None:
    s = systems.MultiAgent.paper("train", n_agents=4)
    f = MultiAgentKinematics(s, hidden=4)
    y = torch.as_tensor(s.initial_conditions(3, 2))
    eta, w = y[:, :12], s.exo.values(y[:, 12:])
    # replace f_J by the exact kinematics [[cos, 0], [sin, 0], [0, 1]] from its (sin, cos) features
    exact = torch.nn.Linear(2, 6, dtype=torch.float64)
    with torch.no_grad():
        exact.weight.zero_()
        exact.bias.zero_()
        exact.weight[0, 1] = 1.0       # J_00 = cos φ
        exact.weight[2, 0] = 1.0       # J_10 = sin φ
        exact.bias[5] = 1.0            # J_21 = 1
    f.f_J = exact
    torch.testing.assert_close(f(torch.zeros(3), eta, w), s.controlled_field(eta, w), rtol=0, atol=1e-14)


class TrueVehicle(torch.nn.Module):
    def __init__(self, s: systems.Vehicle) -> None:
        super().__init__()
        self.s = s

    def forward(self, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.s.controlled_field(x, u)


def test_with_input_integrates_per_sample_inputs_like_the_augmented_system() -> None:
    s = systems.get("vehicle")
    y0 = torch.as_tensor(s.initial_conditions(4, 1))
    t = torch.linspace(0.0, 10.0, 11, dtype=torch.float64)
    field = with_input(TrueVehicle(s), s.input_series(y0))
    exo = pysciml.odeint(field, with_input.augment(y0[:, :6]), t, rtol=1e-10, atol=1e-12).ys[..., :-1]
    aug = pysciml.odeint(lambda tt, y: s.rhs_torch(tt, y), y0, t, rtol=1e-10, atol=1e-12).ys[..., :6]
    np.testing.assert_allclose(exo.numpy(), aug.numpy(), atol=1e-7)
