"""Log-norms, contractivity δ (exact vs brute force, ascent) and the minimal stabilising perturbation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pysciml.errors import ValidationError
from pysciml.models import StableNODE
from pysciml.stability import (
    StabilizeHook,
    contractivity_delta,
    flow_lipschitz_bound,
    identity_shift,
    log_norm,
    stabilize,
    stabilize_node,
)


def _mu_def(a: torch.Tensor, p: float) -> float:
    """Definition ``(‖I + hA‖_p − 1)/h`` at small ``h`` (one-sided derivative)."""
    h = 1e-7
    return (float(torch.linalg.matrix_norm(torch.eye(a.shape[0], dtype=a.dtype) + h * a, ord=p)) - 1) / h


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_log_norm_matches_definition(p: float) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        a = torch.randn(5, 5, generator=gen, dtype=torch.float64)
        assert abs(float(log_norm(a, p)) - _mu_def(a, p)) < 1e-5
    batch = torch.randn(3, 4, 4, dtype=torch.float64)
    assert log_norm(batch, p).shape == (3,)
    with pytest.raises(ValidationError, match="p must be"):
        log_norm(batch, 3)


def _top(a: np.ndarray, diag: np.ndarray) -> float:
    m = diag[:, None] * a
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])


def _brute_force(a: np.ndarray, alpha: float, rng: np.random.Generator,
                 n_interior: int) -> tuple[float, float]:
    """Max over all 2^d vertices (plain loop) and over random interior points of the box."""
    d = a.shape[0]
    vertex = max(_top(a, np.array(v)) for v in itertools.product((alpha, 1.0), repeat=d))
    interior = max(_top(a, v) for v in rng.uniform(alpha, 1.0, size=(n_interior, d)))
    return vertex, interior


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 8), alpha=st.floats(0.0, 1.0), seed=st.integers(0, 10**6))
def test_exact_delta_equals_brute_force(d: int, alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    res = contractivity_delta(a, alpha, "exact")
    vertex, interior = _brute_force(a, alpha, rng, 200)
    assert not res.is_lower_bound
    assert abs(res.delta - vertex) <= 1e-10 * (1 + abs(vertex))
    assert interior <= res.delta + 1e-10
    # the reported maximiser is a vertex that attains the value
    assert torch.all((res.d == 1.0) | (res.d == alpha))
    m = torch.as_tensor(a) * res.d[:, None]
    assert abs(float(torch.linalg.eigvalsh(0.5 * (m + m.T))[-1]) - res.delta) < 1e-10


def test_delta_special_cases_and_flow_bound() -> None:
    a = torch.randn(4, 4, dtype=torch.float64)
    # alpha = 1: only D = I, δ = μ_2(A)
    assert abs(contractivity_delta(a, 1.0).delta - float(log_norm(a))) < 1e-12
    # A = -diag(c): DA = -diag(D c), δ = -α min c, flow bound e^{-α min(c) t}
    c = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    assert abs(flow_lipschitz_bound(-torch.diag(c), 0.3, t=2.0) - math.exp(-0.3 * 0.5 * 2.0)) < 1e-12
    with pytest.raises(ValidationError, match="ascent"):
        contractivity_delta(torch.zeros(17, 17), 0.5, "exact")
    with pytest.raises(ValidationError, match="alpha"):
        contractivity_delta(a, 1.5)


def test_flow_bound_holds_for_stable_node() -> None:
    torch.manual_seed(3)
    model = StableNODE(3, "leaky_tanh", alpha=0.3).double()
    t_end, n = 1.0, 400
    u = torch.randn(64, 3, dtype=torch.float64)
    v = u + 1e-3 * torch.randn(64, 3, dtype=torch.float64)
    d0 = (u - v).norm(dim=-1)
    h = t_end / n
    with torch.no_grad():
        for _ in range(n):  # classical RK4, accurate enough for a bound check with margin
            for w in (u, v):
                k1 = model(None, w)
                k2 = model(None, w + h / 2 * k1)
                k3 = model(None, w + h / 2 * k2)
                k4 = model(None, w + h * k3)
                w += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    ratio = (u - v).norm(dim=-1) / d0
    assert float(ratio.max()) <= flow_lipschitz_bound(model.A, 0.3, t=t_end) * (1 + 1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stabilize_reaches_target_and_beats_identity_shift(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    d = 3 + seed % 3
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    target = -0.1 * seed
    res = stabilize(a, 0.2, target)
    assert res.delta_initial > target
    assert res.delta <= target + 1e-6 and res.certified
    assert contractivity_delta(res.perturbed_matrix, 0.2, "exact").delta <= target + 1e-6
    assert abs(res.epsilon - float(torch.linalg.norm(res.delta_matrix))) < 1e-12
    assert res.epsilon_lower_bound <= res.epsilon <= (1 + 0.05) * res.epsilon_lower_bound
    # the smallest scaled-identity shift -cI achieving the same target is feasible, minimal, and no better
    c = identity_shift(a, 0.2, target)
    eye = torch.eye(d, dtype=torch.float64)
    assert contractivity_delta(a - c * eye, 0.2, "exact").delta <= target + 1e-6
    assert contractivity_delta(a - 0.999 * c * eye, 0.2, "exact").delta > target
    assert res.epsilon < 0.9 * c * math.sqrt(d)  # non-normal random A: the optimum is much smaller


def test_stabilize_matches_closed_form_for_alpha_one() -> None:
    # alpha = 1: δ = μ_2(A + Δ); with one eigenvalue of Sym(A) above the target the optimum is the
    # rank-one correction -(λ_1 - δ̄) v vᵀ with norm λ_1 - δ̄.
    gen = torch.Generator().manual_seed(5)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    sym = q @ torch.diag(torch.tensor([2.0, -0.5, -1.0, -3.0], dtype=torch.float64)) @ q.T
    skew = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    a = sym + (skew - skew.T)
    res = stabilize(a, 1.0, 0.0)
    assert res.delta <= 1e-6
    assert abs(res.epsilon - 2.0) < 1e-5


def test_stabilize_noop_hook_and_errors() -> None:
    a = -2.0 * torch.eye(3, dtype=torch.float64)
    res = stabilize(a, 0.5, 0.0)
    assert res.epsilon == 0.0 and torch.equal(res.perturbed_matrix, a)
    with pytest.raises(ValidationError, match="alpha=0"):
        stabilize(torch.randn(3, 3), 0.0, -0.1)
    torch.manual_seed(0)
    model = StableNODE(3, "leaky_relu", alpha=0.25).double()
    with torch.no_grad():
        model.A.mul_(3.0)
    before = model.A.detach().clone()
    hook = StabilizeHook(delta_target=0.0, every=2)
    assert hook(model, step=1) is None and torch.equal(model.A, before)
    out = hook(model, step=2)
    assert out is not None and model.contractivity_delta().delta <= 1e-6
    assert torch.allclose(model.A.detach(), before + out.delta_matrix)
    assert stabilize_node(model, 0.0).epsilon == 0.0  # already stable now
