"""Tableaux checked in exact arithmetic: order conditions over rooted trees, embedded orders, dense outputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from pysciml.errors import ValidationError
from pysciml.integrators.explicit import TABLEAUX, ExplicitRK
from pysciml.integrators.fields import VectorField
from pysciml.integrators.tableau import ButcherTableau, lower, order_conditions, rooted_trees

DT = torch.float64
RATIONAL = {"euler", "midpoint", "heun", "ralston", "heun3", "rk4", "rk4_38", "adaptive_heun", "fehlberg2", "bosh3",
            "dopri5"}


def n_trees(order: int) -> int:
    return sum(len(rooted_trees(k)) for k in range(1, order + 1))


def coefficients(tab: ButcherTableau, key: str) -> list:
    src = tab.exact if tab.exact is not None else {key: getattr(tab, key)}
    return src[key].tolist()


def test_rooted_tree_counts() -> None:
    # the number of rooted trees with n nodes (OEIS A000081)
    assert [len(rooted_trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_order_conditions(name: str) -> None:
    tab = TABLEAUX[name]
    assert (tab.exact is not None) == (name in RATIONAL)
    a = coefficients(tab, "a")
    res = order_conditions(a, coefficients(tab, "b"), tab.order + 1)
    if tab.exact is not None:
        assert all(r == 0 for r in res[:n_trees(tab.order)])  # exactly, in rational arithmetic
    else:
        assert max(abs(r) for r in res[:n_trees(tab.order)]) < 1e-13
    assert max(abs(float(r)) for r in res[n_trees(tab.order):]) > 1e-8  # and not of a higher order
    if tab.error_weights is not None:
        b_hat = [u - v for u, v in zip(coefficients(tab, "b"), coefficients(tab, "error_weights"), strict=True)]
        res = order_conditions(a, b_hat, tab.error_order + 1)
        assert max(abs(float(r)) for r in res[:n_trees(tab.error_order)]) < 1e-13
        assert max(abs(float(r)) for r in res[n_trees(tab.error_order):]) > 1e-8


@pytest.mark.parametrize(("name", "order"), [("dopri5", 4), ("tsit5", 4), ("dopri8", 5)])
def test_dense_output_order_conditions(name: str, order: int) -> None:
    """``Σ b_i(θ) Φ_i(τ) = θ^{|τ|}/γ(τ)`` for ``|τ| <= order`` (exactly for dopri5's midpoint at θ = 1/2)."""
    tab = TABLEAUX[name]
    a = coefficients(tab, "a")
    for theta in ([Fraction(1, 2)] if tab.dense is None else [0.2, 0.5, 0.9]):
        weights = coefficients(tab, "c_mid") if tab.dense is None else tab.dense_weights(theta)
        res = order_conditions(a, weights, order + 1, theta)
        if tab.exact is not None:
            assert all(r == 0 for r in res[:n_trees(order)])
        else:
            assert max(abs(r) for r in res[:n_trees(order)]) < 1e-13
        assert max(abs(float(r)) for r in res[n_trees(order):]) > 1e-6


def test_mistyped_dopri5_coefficient_is_caught() -> None:
    """The midpoint weight once read …/1594534317072 (published: …056); exact checking rejects it."""
    good = TABLEAUX["dopri5"]
    c_mid = list(good.exact["c_mid"])
    c_mid[4] = Fraction(187940372067, 1594534317072) / 2
    assert abs(float(sum(c_mid)) - 0.5) < 1e-12  # a float check at 1e-12 would let it through
    with pytest.raises(ValidationError, match="c_mid"):
        ButcherTableau("dopri5_typo", 5, good.exact["a"], good.exact["b"], good.exact["c"], c_mid=c_mid)
    assert good.c_mid[4] == float(Fraction(187940372067, 1594534317056) / 2)


def test_exact_consistency_checks() -> None:
    with pytest.raises(ValidationError, match="row sums"):
        ButcherTableau("bad", 2, lower([[], [Fraction(1, 3)]]), [Fraction(1, 2)] * 2,
                       [0, Fraction(1, 3) + Fraction(1, 10**30)])
    with pytest.raises(ValidationError, match="b_i"):
        ButcherTableau("bad", 1, lower([[]]), [1], [0], dense=[[Fraction(1, 2), Fraction(1, 3)]])


# dense-output order q: the local interpolation error at fixed θ is O(h^{q+1})
DENSE_ORDERS = {"dopri5": 4, "tsit5": 4, "dopri8": 5, "bosh3": 3, "fehlberg2": 1, "adaptive_heun": 1}


@pytest.mark.parametrize("name", sorted(DENSE_ORDERS))
def test_dense_output_local_order(name: str) -> None:
    """One step from the exact solution of ``y' = [y₂, -y₁] + cos(t)``; interpolate at θ = 0.37 and compare with
    the exact solution there: the error falls like ``h^{q+1}``."""
    stepper = ExplicitRK(TABLEAUX[name])
    rot = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=DT)
    field = VectorField(lambda t, y: y @ rot.T + torch.cos(3 * t)[:, None])
    y0 = torch.tensor([[1.0, 0.5]], dtype=DT)
    t0 = torch.zeros(1, dtype=DT)
    theta = torch.tensor([0.37], dtype=DT)
    hs = [0.2, 0.1, 0.05] if DENSE_ORDERS[name] >= 4 else [0.04, 0.02, 0.01]
    errs = []
    for h in hs:
        dt = torch.tensor([h], dtype=DT)
        f0 = field(t0, y0)
        res = stepper.step(field, t0, y0, dt, f0)
        f1 = res.f_end if res.f_end is not None else field(t0 + dt, res.y)
        y_th = stepper.interpolate(theta, dt, y0, res.y, f0, f1, res.interp)
        exact = ExplicitRK(TABLEAUX["dopri8"])  # the exact value at t0 + θh: many tiny dopri8 steps
        y, t = y0, t0
        for _ in range(40):
            y = exact.step(field, t, y, theta * dt / 40, None).y
            t = t + theta * dt / 40
        errs.append((y_th - y).abs().max().item())
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - (DENSE_ORDERS[name] + 1)) < 0.35, (name, slope, errs)
