"""Explicit Runge–Kutta tableaux: validation, convergence orders, error-estimate orders, vs torchdiffeq."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pysciml
from pysciml.errors import ValidationError
from pysciml.integrators.explicit import TABLEAUX, ExplicitRK
from pysciml.integrators.fields import VectorField
from pysciml.integrators.tableau import ButcherTableau

DT = torch.float64


def hurwitz(dim: int, seed: int) -> torch.Tensor:
    """A random matrix with all eigenvalues in the open left half plane (negative definite symmetric part)."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(dim, dim, generator=g, dtype=DT)
    s = torch.randn(dim, dim, generator=g, dtype=DT)
    a = -(m @ m.T) / dim - 0.5 * torch.eye(dim, dtype=DT) + (s - s.T) / 2
    assert bool((torch.linalg.eigvals(a).real < 0).all())
    return a


def test_tableaux_validate_and_detect_fsal() -> None:
    assert {n for n, t in TABLEAUX.items() if t.fsal} == {"bosh3", "dopri5", "dopri8", "tsit5"}
    with pytest.raises(ValidationError, match="row sums"):
        ButcherTableau("bad", 2, np.array([[0, 0], [0.4, 0]]), [0.5, 0.5], [0.0, 0.5])
    with pytest.raises(ValidationError, match="sum to 1"):
        ButcherTableau("bad", 2, np.array([[0, 0], [0.5, 0]]), [0.5, 0.6], [0.0, 0.5])
    with pytest.raises(ValidationError, match="sum to 0"):
        ButcherTableau("bad", 2, np.array([[0, 0], [1.0, 0]]), [0.5, 0.5], [0.0, 1.0],
                       error_weights=[0.1, 0.0], error_order=1)


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_convergence_order_against_matrix_exp(name: str) -> None:
    a = hurwitz(4, seed=1)
    y0 = torch.randn(3, 4, generator=torch.Generator().manual_seed(2), dtype=DT)
    t_end = 1.0
    exact = y0 @ torch.linalg.matrix_exp(a * t_end).T
    order = TABLEAUX[name].order
    ns = [5, 6, 8, 10] if order >= 8 else [32, 64, 128, 256] if order >= 4 else [64, 128, 256]
    errs = []
    for n in ns:
        sol = pysciml.odeint(lambda t, y: y @ a.T, y0, torch.tensor([0.0, t_end], dtype=DT), method=name,
                             step_size=t_end / n)
        assert bool((sol.stats["n_steps"] == n).all())
        errs.append((sol.ys[:, -1] - exact).abs().max().item())
    slope = np.polyfit(np.log([t_end / n for n in ns]), np.log(errs), 1)[0]
    # dopri8's 9th-order error terms are tiny (~1e-8, its order conditions): at testable steps the slope is ~9
    assert order - 0.2 < slope < order + (1.5 if order >= 8 else 0.2), (name, slope, errs)


@pytest.mark.parametrize("name", ["bosh3", "dopri5", "tsit5"])
def test_error_estimate_has_local_order(name: str) -> None:
    """The embedded estimate ``h Σ e_i k_i`` is a local error of order ``error_order + 1``."""
    a = hurwitz(3, seed=3)
    stepper = ExplicitRK(TABLEAUX[name])
    field = VectorField(lambda t, y: y @ a.T + torch.sin(t)[:, None])
    y0 = torch.ones(1, 3, dtype=DT)
    hs = [0.08, 0.04, 0.02]
    t0 = torch.zeros(1, dtype=DT)
    est = [stepper.step(field, t0, y0, torch.tensor([h], dtype=DT), None).error.norm().item() for h in hs]
    slope = np.polyfit(np.log(hs), np.log(est), 1)[0]
    assert abs(slope - (TABLEAUX[name].error_order + 1)) < 0.3, (name, slope)


@pytest.mark.parametrize("name", ["dopri5", "tsit5"])
def test_dense_output_accuracy(name: str) -> None:
    a = hurwitz(4, seed=4)
    y0 = torch.randn(2, 4, generator=torch.Generator().manual_seed(5), dtype=DT)
    t = torch.linspace(0.0, 2.0, 201, dtype=DT)
    sol = pysciml.odeint(lambda tt, y: y @ a.T, y0, t, method=name, rtol=1e-9, atol=1e-11)
    exact = torch.stack([y0 @ torch.linalg.matrix_exp(a * tk).T for tk in t], dim=1)
    assert (sol.ys - exact).abs().max().item() < 1e-6
    # far fewer steps than outputs: the values between steps come from the interpolant
    assert bool((sol.stats["n_accepted"] < 120).all())


def test_agrees_with_torchdiffeq_dopri5() -> None:
    torchdiffeq = pytest.importorskip("torchdiffeq")

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[..., 1], -torch.sin(y[..., 0]) - 0.1 * y[..., 1]], dim=-1)

    y0 = torch.tensor([[1.0, 0.0], [2.0, 0.5], [-0.5, 1.0]], dtype=DT)
    t = torch.linspace(0.0, 5.0, 11, dtype=DT)
    ours = pysciml.odeint(f, y0, t, method="dopri5", rtol=1e-7, atol=1e-9).ys
    theirs = torchdiffeq.odeint(f, y0, t, method="dopri5", rtol=1e-7, atol=1e-9).transpose(0, 1)
    ref = pysciml.odeint(f, y0, t, method="dopri5", rtol=1e-12, atol=1e-13).ys
    assert (ours - theirs).abs().max().item() < 2e-6
    assert (ours - ref).abs().max().item() < 2e-6
