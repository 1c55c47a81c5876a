"""Adams coefficients, computed exactly: known values, exactness on polynomials, and the methods' orders."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import torch

from pysciml.compat import adams_coefficients, odeint


def test_known_values() -> None:
    assert adams_coefficients(4, False) == (F(55, 24), F(-59, 24), F(37, 24), F(-9, 24))
    assert adams_coefficients(3, True) == (F(9, 24), F(19, 24), F(-5, 24), F(1, 24))
    assert adams_coefficients(1, False) == (F(1),)


@pytest.mark.parametrize("steps", range(1, 12))
@pytest.mark.parametrize("implicit", [False, True])
def test_exact_on_polynomials(steps: int, implicit: bool) -> None:
    """``∫_0^1 s^q ds = Σ_j β_j s_j^q`` exactly for every degree ``q`` the nodes interpolate (and not one more)."""
    beta = adams_coefficients(steps, implicit)
    nodes = [F(1 - j) for j in range(steps + 1)] if implicit else [F(-j) for j in range(steps)]
    degree = len(nodes)
    for q in range(degree):
        assert sum(b * s**q for b, s in zip(beta, nodes, strict=True)) == F(1, q + 1)
    assert sum(b * s**degree for b, s in zip(beta, nodes, strict=True)) != F(1, degree + 1)


@pytest.mark.filterwarnings("ignore:max_order is below")
@pytest.mark.parametrize(("method", "max_order", "order"), [("explicit_adams", 3, 4), ("explicit_adams", 4, 3),
                                                            ("explicit_adams", 5, 4), ("implicit_adams", 4, 4)])
def test_convergence_order(method: str, max_order: int, order: int) -> None:
    """``y' = -y + sin t``: the error at t = 2 falls like ``h^order``: Adams–Bashforth with ``max_order - 1`` steps,
    one more with the Adams–Moulton corrector; below ``max_order = 4`` torchdiffeq's rule makes it rk4."""
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    exact = 1.5 * np.exp(-2.0) + 0.5 * (np.sin(2.0) - np.cos(2.0))
    ns = [40, 80, 160]
    errs = [abs(odeint(lambda tt, y: -y + torch.sin(tt), torch.tensor(1.0, dtype=torch.float64), t, method=method,
                       options={"step_size": 2.0 / n, "max_order": max_order, "max_iters": 10}, rtol=1e-12,
                       atol=1e-14)[-1].item()
                - exact) for n in ns]
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.25, (method, slope, errs)
