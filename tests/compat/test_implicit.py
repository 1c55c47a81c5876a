"""Implicit fixed-grid methods (torchdiffeq's development-version names): tableaux, orders, stiffness, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pysciml.compat import odeint
from pysciml.compat._implicit import TABLEAUX
from pysciml.integrators.tableau import order_conditions, rooted_trees

DT = torch.float64
A = torch.tensor([[-1.0, 2.0], [-2.0, -1.0]], dtype=DT)
Y0 = torch.tensor([1.0, 0.5], dtype=DT)


def n_trees(order: int) -> int:
    return sum(len(rooted_trees(k)) for k in range(1, order + 1))


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_order_conditions(name: str) -> None:
    tab = TABLEAUX[name]
    src = tab.exact if tab.exact is not None else {"a": tab.a, "b": tab.b}
    res = order_conditions(src["a"].tolist(), src["b"].tolist(), tab.order + 1)
    if tab.exact is not None:
        assert all(r == 0 for r in res[:n_trees(tab.order)])
    else:
        assert max(abs(r) for r in res[:n_trees(tab.order)]) < 1e-13
    assert max(abs(float(r)) for r in res[n_trees(tab.order):]) > 1e-6
    assert (tab.exact is not None) == (name in {"implicit_euler", "implicit_midpoint", "trapezoid", "radauIIA3"})


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_convergence_order(name: str) -> None:
    exact = torch.linalg.matrix_exp(A) @ Y0
    ns = [10, 20, 40]
    errs = []
    for n in ns:
        y = odeint(lambda t, y: A @ y, Y0, torch.tensor([0.0, 1.0], dtype=DT), method=name,
                   options={"step_size": 1 / n}, rtol=1e-12, atol=1e-14)
        errs.append((y[-1] - exact).abs().max().item())
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - TABLEAUX[name].order) < 0.15, (name, slope, errs)


@pytest.mark.parametrize("name", ["implicit_euler", "radauIIA3", "radauIIA5", "sdirk2", "trbdf2"])
def test_l_stable_methods_damp_stiff_modes(name: str) -> None:
    """``y' = λ (y - cos t)`` with ``λ = -10⁶`` and steps of 0.1 (hλ = -10⁵): the L-stable methods follow the slow
    solution ``cos t`` (explicit methods would blow up)."""
    lam = -1e6
    t = torch.linspace(0.0, 1.0, 11, dtype=DT)
    y = odeint(lambda tt, y: lam * (y - torch.cos(tt)), torch.tensor([3.0], dtype=DT), t, method=name)
    assert (y[2:, 0] - torch.cos(t[2:])).abs().max().item() < 1e-4


def test_gradients_through_newton_match_the_exact_sensitivity() -> None:
    """``y(1) = exp(kA) y0`` for ``y' = k A y``: the gradients through the Newton iterations of gl6 equal the exact
    ``d sum(y(1))/dk = sum(A exp(kA) y0)`` and ``d sum(y(1))/dy0 = exp(kA)ᵀ 1`` to the method's accuracy."""
    k = torch.tensor(0.8, dtype=DT, requires_grad=True)
    y0 = Y0.clone().requires_grad_(True)
    y = odeint(lambda t, y: k * (A @ y), y0, torch.tensor([0.0, 1.0], dtype=DT), method="gl6",
               options={"step_size": 0.05}, rtol=1e-12, atol=1e-14)
    g_k, g_y0 = torch.autograd.grad(y[-1].sum(), [k, y0])
    expm = torch.linalg.matrix_exp(0.8 * A)
    torch.testing.assert_close(g_k, (A @ expm @ Y0).sum(), rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(g_y0, expm.T @ torch.ones(2, dtype=DT), rtol=1e-9, atol=1e-10)


def test_gradcheck_nonlinear() -> None:
    def solve(y0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return odeint(lambda t, y: torch.tanh(w @ y) - y, y0, torch.tensor([0.0, 0.3, 0.6], dtype=DT),
                      method="radauIIA5", options={"step_size": 0.1}, rtol=1e-13, atol=1e-14)

    g = torch.Generator().manual_seed(0)
    y0 = torch.randn(3, generator=g, dtype=DT, requires_grad=True)
    w = torch.randn(3, 3, generator=g, dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(solve, (y0, w), eps=1e-6, atol=1e-6)


def test_newton_warns_when_it_cannot_converge() -> None:
    with pytest.warns(UserWarning, match="did not converge"):
        odeint(lambda t, y: -y**3 * 50, torch.tensor([2.0], dtype=DT), torch.tensor([0.0, 1.0], dtype=DT),
               method="gl4", options={"max_iters": 1})
    assert math.isfinite(odeint(lambda t, y: -y, torch.tensor(1.0, dtype=DT), torch.tensor([0.0, 1.0], dtype=DT),
                                method="trbdf2", options={"step_size": 0.1, "interp": "cubic"})[-1].item())
