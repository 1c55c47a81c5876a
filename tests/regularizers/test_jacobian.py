"""Numerical tests of the Jacobian quantities against exact references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pysciml.errors import UnknownNameError, ValidationError
from pysciml.regularizers import (
    exact_jacobian,
    jacobian_condition,
    jacobian_frobenius,
    jacobian_spectral,
    jvp,
    smallest_singular_value,
    vjp,
)


def _mlp(d: int, seed: int, hidden: int = 16) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, d)).double()


def _linear(d: int, seed: int) -> tuple[torch.Tensor, callable]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a, (lambda x: x @ a.T)


def test_exact_jacobian_matches_autograd():
    net = _mlp(4, 0)
    x = torch.randn(3, 4, dtype=torch.float64)
    jac = exact_jacobian(net, x)
    for b in range(3):
        ref = torch.autograd.functional.jacobian(net, x[b])
        torch.testing.assert_close(jac[b], ref)


def test_jvp_vjp_consistent_and_time_argument():
    net = _mlp(3, 1)
    f = lambda t, y: net(y) * (1 + t[:, None])  # noqa: E731
    x = torch.randn(5, 3, dtype=torch.float64)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    jac = exact_jacobian(f, x, t)
    v = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(jvp(f, x, v, t), torch.einsum("bij,kbj->kbi", jac, v))
    torch.testing.assert_close(vjp(f, x, v, t), torch.einsum("bij,kbi->kbj", jac, v))


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
@pytest.mark.parametrize("mode", ["jvp", "vjp"])
def test_hutchinson_frobenius_is_unbiased(distribution, mode):
    net = _mlp(5, 2)
    x = torch.randn(4, 5, dtype=torch.float64)
    exact = jacobian_frobenius(net, x, "exact")
    gen = torch.Generator().manual_seed(3)
    draws = torch.stack([jacobian_frobenius(net, x, "hutchinson", n_samples=1, distribution=distribution,
                                            mode=mode, generator=gen) for _ in range(2000)])
    mean, se = draws.mean(0), draws.std(0) / math.sqrt(draws.shape[0])
    assert torch.all((mean - exact).abs() <= 3 * se), (mean, exact, se)
    assert torch.all(se > 0)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_spectral_and_condition_match_svdvals(kind):
    d = 5
    x = torch.randn(6, d, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    f = _linear(d, 11)[1] if kind == "linear" else _mlp(d, 11)
    s = torch.linalg.svdvals(exact_jacobian(f, x))
    gen = torch.Generator().manual_seed(0)
    for mode in ("jvp", "vjp"):
        sig = jacobian_spectral(f, x, iters=2000, mode=mode, generator=gen)
        torch.testing.assert_close(sig, s[:, 0], rtol=1e-4, atol=0)
    s_min = smallest_singular_value(f, x, method="iterative", iters=2000, generator=gen)
    torch.testing.assert_close(s_min, s[:, -1], rtol=1e-4, atol=0)
    kappa_it = jacobian_condition(f, x, method="iterative", iters=2000, generator=gen)
    torch.testing.assert_close(kappa_it, s[:, 0] / s[:, -1], rtol=1e-4, atol=0)
    torch.testing.assert_close(jacobian_condition(f, x, method="exact"), s[:, 0] / s[:, -1])


def test_smallest_singular_value_of_singular_map_is_zero():
    a = torch.diag(torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64))
    x = torch.randn(2, 3, dtype=torch.float64)
    s = smallest_singular_value(lambda z: z @ a.T, x, method="iterative")
    assert torch.all(s.abs() < 1e-12)


def test_gradients_of_quantities_gradcheck():
    x = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a0 = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 3 * torch.eye(3)

    def frob(a):
        return jacobian_frobenius(lambda z: torch.tanh(z @ a.T), x, "exact").sum()

    def hutch(a):
        g = torch.Generator().manual_seed(5)
        return jacobian_frobenius(lambda z: torch.tanh(z @ a.T), x, "hutchinson", n_samples=3, mode="vjp",
                                  generator=g).sum()

    def spec(a):
        g = torch.Generator().manual_seed(5)
        return jacobian_spectral(lambda z: z @ a.T, x, iters=500, generator=g).sum()

    def smin(a):
        g = torch.Generator().manual_seed(5)
        return smallest_singular_value(lambda z: z @ a.T, x, method="iterative", iters=500, generator=g).sum()

    for fn in (frob, hutch, spec, smin):
        assert torch.autograd.gradcheck(fn, (a0.clone().requires_grad_(True),), atol=1e-6)


def test_bad_arguments_raise_clear_errors():
    net = _mlp(3, 0)
    with pytest.raises(ValidationError, match="x must have shape"):
        jacobian_frobenius(net, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(UnknownNameError, match="estimator"):
        jacobian_frobenius(net, torch.zeros(2, 3, dtype=torch.float64), estimator="nope")
    with pytest.raises(UnknownNameError, match="distribution"):
        jacobian_frobenius(net, torch.zeros(2, 3, dtype=torch.float64), "hutchinson", distribution="cauchy")
