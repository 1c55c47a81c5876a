"""Abscissae, transient growth, Jacobian spectra along trajectories and the stiffness index."""

from __future__ import annotations

import math

import pytest
import torch

from pysciml.errors import ValidationError
from pysciml.stability import (
    jacobian_spectra,
    numerical_abscissa,
    spectral_abscissa,
    stiffness_index,
    trajectory_jacobians,
    transient_growth,
)


def test_abscissae_and_transient_growth_of_jordan_block() -> None:
    # A = [[λ, c], [0, λ]]: α = λ, ω = λ + |c|/2, ‖e^{tA}‖_2 = e^{λt} ‖[[1, ct], [0, 1]]‖_2
    lam, c = -1.0, 4.0
    a = torch.tensor([[lam, c], [0.0, lam]], dtype=torch.float64)
    assert abs(float(spectral_abscissa(a)) - lam) < 1e-6
    assert abs(float(numerical_abscissa(a)) - (lam + c / 2)) < 1e-12
    t = torch.linspace(0, 5, 2001, dtype=torch.float64)
    tg = transient_growth(a, t)
    x = c * t
    exact = torch.exp(lam * t) * (x / 2 + torch.sqrt(1 + x**2 / 4))  # largest singular value of [[1,x],[0,1]]
    assert torch.allclose(tg.norms, exact, rtol=1e-10)
    assert tg.peak > 1.5 and 0 < tg.t_peak < 2
    # a normal matrix has no transient growth: the peak is at t = 0
    assert transient_growth(-torch.eye(2), t).t_peak == 0.0
    with pytest.raises(ValidationError, match="t must"):
        transient_growth(a, torch.tensor([-1.0]))


def test_jacobian_spectra_along_trajectory() -> None:
    # f(y) = A y + ε y∘y → J = A + 2ε diag(y)
    a = torch.tensor([[-1.0, 4.0], [0.0, -3.0]], dtype=torch.float64)
    eps = 0.1

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ a.T + eps * y * y

    ys = torch.randn(3, 5, 2, dtype=torch.float64)
    jac = trajectory_jacobians(f, torch.linspace(0, 1, 5), ys)
    assert torch.allclose(jac, a + 2 * eps * torch.diag_embed(ys))
    eig = jacobian_spectra(f, torch.linspace(0, 1, 5), ys)
    expected = torch.stack([a[0, 0] + 2 * eps * ys[..., 0], a[1, 1] + 2 * eps * ys[..., 1]], dim=-1)
    assert torch.allclose(eig.real.sort(dim=-1).values, expected.sort(dim=-1).values)
    with pytest.raises(ValidationError, match="ts"):
        trajectory_jacobians(f, torch.zeros(4), ys)


def test_stiffness_index() -> None:
    j = torch.diag(torch.tensor([-1.0, -1000.0], dtype=torch.float64))
    s = stiffness_index(j, 0.0, 2.0)
    assert abs(float(s.condition) - 1000.0) < 1e-9
    assert abs(float(s.index) - 2000.0) < 1e-6
    assert abs(float(s.ratio) - 1000.0) < 1e-9
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)  # orthogonal: κ = 1
    assert math.isclose(float(stiffness_index(rot, 0.0, 1.0).index), 1.0)
    with pytest.raises(ValidationError, match="t1"):
        stiffness_index(j, 1.0, 1.0)
