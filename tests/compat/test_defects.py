"""Regression tests for the defects of issue 17 (each failed before its fix)."""

from __future__ import annotations

import math

import pytest
import torch

import pysciml
from pysciml.compat import odeint, odeint_adjoint
from pysciml.errors import InputTypeError, ValidationError

DT = torch.float64


def test_scalar_state() -> None:
    """A 0-dim y0 (``y' = -t y``, ``y = exp(-t²/2)``) gives ``[time]`` values."""
    t = torch.linspace(0.0, 2.0, 5, dtype=DT)
    y = odeint(lambda tt, y: -tt * y, torch.tensor(1.0, dtype=DT), t)
    assert y.shape == (5,)
    torch.testing.assert_close(y, torch.exp(-t**2 / 2), rtol=1e-6, atol=1e-8)


class Decay(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(0.7, dtype=DT))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -self.k * y


def test_adjoint_of_a_module_with_parameters() -> None:
    """``y = y0 exp(-k t)``: ``d y(T)/dk = -T y(T)``, by the adjoint of a parametrised nn.Module."""
    f = Decay()
    t = torch.tensor([0.0, 1.5], dtype=DT)
    y = odeint_adjoint(f, torch.tensor([2.0], dtype=DT), t)
    (g,) = torch.autograd.grad(y[-1].sum(), [f.k])
    assert g.item() == pytest.approx(-1.5 * 2.0 * math.exp(-0.7 * 1.5), rel=1e-6)


def test_time_reaches_func_in_the_state_dtype() -> None:
    seen: set[torch.dtype] = set()

    def f(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.add(tt.dtype)
        return -y * (tt if tt.dim() == 0 else tt[:, None])

    y = odeint(f, torch.ones(3), torch.linspace(0, 1, 4, dtype=DT))
    assert y.dtype == torch.float32 and seen == {torch.float32}
    for method in ("rodas4", "rosenbrock23", "dopri5"):
        seen.clear()
        sol = pysciml.odeint(f, torch.ones(2, 3), torch.tensor([0.0, 1.0], dtype=DT), method=method)
        assert seen == {torch.float32}, method
        assert sol.ys.dtype == torch.float32


def test_field_output_is_checked() -> None:
    y0 = torch.ones(2, 3)
    # a float64 derivative for a float32 state is cast (it used to crash in index_copy_)
    sol = pysciml.odeint(lambda tt, y: -y.double(), y0, [0.0, 1.0])
    assert sol.ys.dtype == torch.float32
    torch.testing.assert_close(sol.ys[:, -1], torch.full((2, 3), math.exp(-1.0)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValidationError, match=r"returned shape \(2, 1\)"):
        pysciml.odeint(lambda tt, y: y[:, :1], y0, [0.0, 1.0])
    with pytest.raises(InputTypeError, match="dtype"):
        pysciml.odeint(lambda tt, y: y.long(), y0, [0.0, 1.0])
    with pytest.raises(InputTypeError, match="must return a torch.Tensor"):
        odeint(lambda tt, y: 1.0, torch.ones(2), torch.tensor([0.0, 1.0]))


def test_adjoint_when_f_does_not_depend_on_y() -> None:
    """``y' = cos(t)``: ``y(T) = y0 + sin(T)``, so ``∂y(T)/∂y0 = 1`` and ``∂y(T)/∂T = cos(T)``."""
    y0 = torch.ones(2, 3, dtype=DT, requires_grad=True)
    t = torch.tensor([0.0, 0.5, 1.2], dtype=DT, requires_grad=True)
    sol = pysciml.odeint(lambda tt, y: torch.cos(tt)[:, None].expand_as(y), y0, t, adjoint=True)
    g_y0, g_t = torch.autograd.grad(sol.ys[:, -1].sum(), [y0, t])
    torch.testing.assert_close(g_y0, torch.ones_like(y0))
    assert g_t[-1].item() == pytest.approx(6 * math.cos(1.2), rel=1e-6)
    y1 = torch.ones(3, dtype=DT, requires_grad=True)
    out = odeint_adjoint(lambda tt, y: torch.cos(tt) * torch.ones_like(y), y1, t.detach(), adjoint_params=())
    torch.testing.assert_close(torch.autograd.grad(out[-1].sum(), y1)[0], torch.ones_like(y1))


def test_tsit5_dense_output_meets_the_tolerance() -> None:
    """Between steps tsit5 interpolates with Tsitouras' continuous extension: at rtol 1e-6 the error of the dense
    output on ``y = sin t`` stays at the level of the step-end error (the cubic Hermite interpolant was at 4.5e-5)."""
    t = torch.linspace(0.0, 10.0, 1001, dtype=DT)
    y0 = torch.tensor([[0.0, 1.0]], dtype=DT)
    sol = pysciml.odeint(lambda tt, y: torch.stack([y[:, 1], -y[:, 0]], 1), y0, t, method="tsit5", rtol=1e-6,
                         atol=1e-9)
    err = (sol.ys[0, :, 0] - torch.sin(t)).abs().max().item()
    assert sol.stats["n_accepted"].item() < 200  # most outputs are interpolated
    assert err < 5e-6, err
