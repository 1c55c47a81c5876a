"""Tests of the regulariser modules: exact values, unbiasedness, L_FD -> L_AD convergence, gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torch import nn

import pysciml.systems as systems
from pysciml.errors import ValidationError
from pysciml.regularizers import (
    JacobianAD,
    JacobianCondition,
    JacobianFD,
    JacobianFrobenius,
    JacobianSpectral,
    KineticEnergy,
    exact_jacobian,
    jacobian_directional,
)


class Field(nn.Module):
    """Small time-dependent MLP field f(t, y) in the odeint convention."""

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(d + 1, 12), nn.Tanh(), nn.Linear(12, d)).double()

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([y, t[:, None]], dim=-1))


def test_kinetic_and_frobenius_exact_values_on_windows():
    f = Field(3, 0)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    t = torch.linspace(0, 1, 4, dtype=torch.float64)
    tt = t.expand(2, 4).reshape(-1)
    pts = x.reshape(-1, 3)
    ke = KineticEnergy(weight=0.5)(f, x, t)
    torch.testing.assert_close(ke, 0.5 * f(tt, pts).pow(2).sum(-1).mean())
    jac = exact_jacobian(f, pts, tt)
    fro = JacobianFrobenius(weight=2.0, estimator="exact")(f, x, t)
    torch.testing.assert_close(fro, 2.0 * jac.pow(2).sum((-2, -1)).mean())
    spec = JacobianSpectral(weight=1.0, iters=500)(f, x, t)
    torch.testing.assert_close(spec, torch.linalg.svdvals(jac)[:, 0].mean(), rtol=1e-6, atol=0)
    cond = JacobianCondition()(f, x, t)
    s = torch.linalg.svdvals(jac)
    torch.testing.assert_close(cond, 0.5 * ((s[:, 0] / (s[:, -1] + 1e-6)) - 1).pow(2).mean())


def test_jacobian_ad_is_unbiased_for_difference_frobenius():
    system = systems.get("two_body")
    f = Field(4, 1)
    x = torch.tensor(system.initial_conditions(3, seed=0), dtype=torch.float64)
    known = system.rhs_torch
    reg = JacobianAD(known, weight=1.0, n_samples=4000)
    torch.manual_seed(0)
    t = torch.zeros(3, dtype=torch.float64)
    diff = exact_jacobian(f, x, t) - exact_jacobian(known, x, t)
    exact = diff.pow(2).sum((-2, -1))
    per_point = reg.per_point(f, x, t)
    # sample std of ||D v||^2 is sqrt(2) ||D^T D||_F for Gaussian v; 3 standard errors
    se = math.sqrt(2) * torch.linalg.matrix_norm(diff.transpose(1, 2) @ diff) / math.sqrt(4000)
    assert torch.all((per_point - exact).abs() <= 3 * se)


def test_jacobian_ad_with_a_closed_form_known_jvp_gives_the_same_value():
    system = systems.get("kuramoto_sivashinsky", preset="lpsda", burn_in=0.0)
    f = Field(system.dim, 1)
    x = torch.tensor(system.initial_conditions(4, seed=0), dtype=torch.float64)
    values = []
    for known_jvp in (None, system.jvp_torch):
        torch.manual_seed(0)
        values.append(JacobianAD(system.rhs_torch, n_samples=3, known_jvp=known_jvp)(f, x))
    torch.testing.assert_close(values[0], values[1], rtol=1e-12, atol=0.0)


def test_jacobian_fd_converges_to_directional_ad_quantity():
    system = systems.get("two_body")
    y0 = system.initial_conditions(1, seed=3)[0]
    f = Field(4, 2)
    known = system.rhs_torch
    x0 = torch.tensor(y0[None], dtype=torch.float64)
    t0 = torch.zeros(1, dtype=torch.float64)
    direction = known(t0, x0)
    direction = direction / direction.norm()
    target = jacobian_directional(lambda t, y: f(t, y) - known(t, y), x0, direction, t0).item()
    errors = []
    dts = [2e-3, 1e-3, 5e-4, 2.5e-4]
    for dt in dts:
        ts = np.arange(3) * dt
        sol = solve_ivp(lambda t, y: system.rhs(t, y[None])[0], (0, ts[-1]), y0, t_eval=ts, method="DOP853",
                        rtol=1e-13, atol=1e-13)
        x = torch.tensor(sol.y.T[None], dtype=torch.float64)
        reg = JacobianFD(weight=1.0, variant="forward", eps=0.0)  # no 1e-8 bias at tiny ||dx||
        # evaluate F_theta at time 0 everywhere: Field is time-dependent; use an autonomous slice
        value = reg.per_transition(lambda t, y: f(torch.zeros_like(t), y), x,
                                   torch.tensor(ts, dtype=torch.float64))[0, 0].item()
        errors.append(abs(value - target))
    orders = [math.log(errors[i] / errors[i + 1], 2) for i in range(len(errors) - 1)]
    assert errors[-1] < 2e-2 * target
    assert all(0.8 < p < 1.3 for p in orders), (errors, orders)


def test_jacobian_fd_backward_variant_and_validation():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    t = torch.arange(5, dtype=torch.float64) * 0.1
    lin = torch.randn(3, 3, dtype=torch.float64)
    f = lambda t, y: y @ lin.T  # noqa: E731
    fwd = JacobianFD(variant="forward").per_transition(f, x, t)
    bwd = JacobianFD(variant="backward").per_transition(f, x, t)
    fd_data = (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]) / 0.1
    dx_b = x[:, 2:] - x[:, 1:-1]
    torch.testing.assert_close(bwd, (dx_b @ lin.T - fd_data).pow(2).sum(-1) / (dx_b.pow(2).sum(-1) + 1e-8))
    assert fwd.shape == bwd.shape == (2, 3)
    with pytest.raises(ValidationError, match="time >= 3"):
        JacobianFD()(f, x[:, :2], t[:2])
    with pytest.raises(ValidationError, match="uniformly"):
        JacobianFD()(f, x, t ** 2)
    with pytest.raises(ValidationError, match="weight"):
        KineticEnergy(weight=-1.0)


@pytest.mark.parametrize("make", [
    lambda: JacobianFrobenius(estimator="exact"),
    lambda: JacobianFrobenius(estimator="hutchinson", n_samples=2, distribution="rademacher", mode="vjp"),
    lambda: JacobianSpectral(iters=200),
    lambda: JacobianCondition(method="exact"),
    lambda: JacobianCondition(method="iterative", iters=200),
    lambda: JacobianAD(lambda t, y: -y, n_samples=3),
    lambda: JacobianFD(),
    lambda: KineticEnergy(),
])
def test_regularizers_gradcheck_in_parameters(make):
    reg = make()
    x = torch.randn(2, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.arange(4, dtype=torch.float64) * 0.1
    w0 = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 2 * torch.eye(3)

    def loss(w):
        torch.manual_seed(4)  # same probes on every call
        return reg(lambda tt, y: torch.tanh(y @ w.T) + 0.1 * tt[:, None], x, t)

    assert torch.autograd.gradcheck(loss, (w0.clone().requires_grad_(True),), atol=1e-6)
