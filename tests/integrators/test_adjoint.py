"""Gradients: gradcheck (float64) through the steps and the continuous adjoint; adjoint vs backprop."""

from __future__ import annotations

import pytest
import torch

import pysciml
from pysciml.errors import ValidationError

DT = torch.float64

# euler's continuous adjoint matches its discrete gradient only to O(h): looser rtol for it
CASES = [("euler", {"step_size": 1e-3}), ("rk4", {"step_size": 0.02}),
         ("dopri5", {"rtol": 1e-10, "atol": 1e-12})]


def _problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    w = (0.5 * torch.randn(2, 2, generator=g, dtype=DT)).requires_grad_(True)
    y0 = torch.randn(2, 2, generator=g, dtype=DT).requires_grad_(True)
    t = torch.tensor([0.0, 0.05, 0.1], dtype=DT, requires_grad=True)
    return w, y0, t


def _field(w: torch.Tensor):
    return lambda tt, y: torch.tanh(y @ w.T) * (1 + 0.5 * torch.sin(tt))[:, None]


@pytest.mark.parametrize(("method", "opts"), CASES)
def test_gradcheck_backprop(method: str, opts: dict) -> None:
    w, y0, t = _problem()
    opts = dict(opts, step_size=0.01) if method == "euler" else opts  # backprop is exact for any step

    def run(w: torch.Tensor, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return pysciml.odeint(_field(w), y0, t, method=method, **opts).ys

    assert torch.autograd.gradcheck(run, (w, y0, t), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize(("method", "opts"), CASES)
def test_gradcheck_adjoint(method: str, opts: dict) -> None:
    w, y0, t = _problem()

    def run(w: torch.Tensor, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return pysciml.odeint(_field(w), y0, t, method=method, adjoint=True, adjoint_params=[w], **opts).ys

    assert torch.autograd.gradcheck(run, (w, y0, t), atol=1e-5, rtol=3e-3 if method == "euler" else 1e-4)


@pytest.mark.parametrize("seminorm", [False, True])
def test_adjoint_agrees_with_backprop_at_tight_tolerance(seminorm: bool) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
    y0 = torch.randn(4, 2, dtype=DT, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 4, dtype=DT, requires_grad=True)

    def field(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return net(y) * torch.cos(tt)[:, None]

    grads = []
    for adjoint in (False, True):
        extra = {"adjoint_rtol": 1e-12, "adjoint_atol": 1e-13, "adjoint_seminorm": seminorm,
                 "adjoint_params": list(net.parameters())} if adjoint else {}
        sol = pysciml.odeint(field, y0, t, rtol=1e-12, atol=1e-13, adjoint=adjoint, **extra)
        loss = (sol.ys**2).sum() + sol.ys[:, 1].sum()
        g = torch.autograd.grad(loss, [y0, t, *net.parameters()])
        grads.append(torch.cat([x.reshape(-1) for x in g]))
    rel = (grads[0] - grads[1]).norm() / grads[0].norm()
    assert rel < 1e-6, rel


def test_adjoint_finds_module_parameters() -> None:
    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 3).double()

        def forward(self, tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.lin(y))

    torch.manual_seed(1)
    field = Field()
    y0 = torch.randn(2, 3, dtype=DT)
    t = [0.0, 0.5]
    pysciml.odeint(field, y0, t, adjoint=True, rtol=1e-10, atol=1e-12).ys.sum().backward()
    adj = field.lin.weight.grad.clone()
    field.zero_grad()
    pysciml.odeint(field, y0, t, rtol=1e-10, atol=1e-12).ys.sum().backward()
    assert torch.allclose(adj, field.lin.weight.grad, rtol=1e-6, atol=1e-9)


def test_adjoint_rejects_per_sample_times() -> None:
    with pytest.raises(ValidationError, match="shared"):
        pysciml.odeint(lambda tt, y: -y, torch.ones(2, 1, dtype=DT), torch.tensor([[0.0, 1.0], [0.0, 2.0]]),
                       adjoint=True)
