"""Scalable δ (ascent + certified upper bound) and the cutting-plane ``stabilize`` against exact references.

Reference for the minimal perturbation (small d): the Lagrange dual of ``min ½‖Δ‖_F²`` s.t.
``Sym(D_k(A + Δ)) ⪯ δ̄ I`` for **all** ``2^d`` vertices ``D_k``, maximised over PSD multipliers ``Z_k`` by
projected accelerated gradient (FISTA). By weak duality every dual value ``g`` gives ``‖Δ*‖_F ≥ sqrt(2g)``,
independently of ``stabilize``'s own oracle and master problem, so ``‖Δ‖_F ≤ 1.01 sqrt(2g)`` certifies that
the returned perturbation is within 1% of the true minimum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pysciml.errors import ValidationError
from pysciml.stability import contractivity_delta, delta_upper_bound, identity_shift, stabilize


def _matrix(kind: str, d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    if kind == "shifted":
        return a - 1.5 * torch.eye(d, dtype=torch.float64)
    if kind == "nonnormal":  # strongly non-normal: large strictly upper part, stable diagonal
        return 3.0 * torch.triu(a, 1) - torch.eye(d, dtype=torch.float64)
    return a


@pytest.mark.parametrize("kind", ["gaussian", "shifted", "nonnormal"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_ascent_agrees_with_exact(kind: str, seed: int) -> None:
    d = 4 + (2 * seed + len(kind)) % 9  # 4 … 12
    alpha = (0.05, 0.2, 0.5, 0.8, 0.0)[seed]
    a = _matrix(kind, d, seed)
    exact = contractivity_delta(a, alpha, "exact")
    res = contractivity_delta(a, alpha, "ascent")
    assert res.is_lower_bound and not exact.is_lower_bound
    assert abs(res.delta - exact.delta) <= 1e-8 * (1 + abs(exact.delta))
    # the certificate brackets the exact value
    assert res.delta <= exact.delta + 1e-12 and res.upper_bound >= exact.delta - 1e-12
    m = torch.as_tensor(a) * res.d[:, None]
    assert abs(float(torch.linalg.eigvalsh(0.5 * (m + m.T))[-1]) - res.delta) < 1e-12


def test_upper_bound_is_valid_and_usually_tight() -> None:
    rng = np.random.default_rng(11)
    tight = 0
    for trial in range(30):
        d = int(rng.integers(2, 11))
        a = torch.as_tensor(rng.standard_normal((d, d)) * rng.uniform(0.3, 3))
        alpha = float(rng.uniform(0, 1))
        exact = contractivity_delta(a, alpha, "exact").delta
        bound = delta_upper_bound(a, alpha)  # from a cold start
        assert bound >= exact - 1e-12, (trial, bound, exact)
        tight += contractivity_delta(a, alpha, "ascent").gap <= 1e-6 * (1 + abs(exact))
    assert tight >= 20  # warm-started at the best vertex the bound usually closes the gap
    # alpha = 1: the bound is mu_2(A) itself
    a = torch.as_tensor(rng.standard_normal((5, 5)))
    assert abs(delta_upper_bound(a, 1.0) - float(torch.linalg.eigvalsh(0.5 * (a + a.T))[-1])) < 1e-12


def test_ascent_scales_with_certified_interval() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(32, 32, generator=gen, dtype=torch.float64) / math.sqrt(32)
    res = contractivity_delta(a, 0.3)  # auto → ascent above d = 12
    assert res.method == "ascent" and res.delta <= res.upper_bound
    assert res.gap <= 0.05 * abs(res.delta)
    # any vertex (here the D = I and D = αI starts) is a lower bound
    assert res.delta >= contractivity_delta(a, 1.0).delta - 1e-12


def _dual_reference(a: torch.Tensor, alpha: float, target: float, iters: int) -> float:
    """Certified lower bound ``sqrt(2 g(Z))`` on the minimal ``‖Δ‖_F`` from all 2^d vertices (FISTA)."""
    d = a.shape[0]
    diags = torch.tensor(list(itertools.product((alpha, 1.0), repeat=d)), dtype=torch.float64)
    da = diags[:, :, None] * a
    c = 0.5 * (da + da.transpose(-1, -2)) - target * torch.eye(d, dtype=torch.float64)
    step = 1.0 / diags.shape[0]  # 1/L: ‖Σ_k D_k Z_k‖² ≤ K Σ_k ‖Z_k‖²
    z = torch.zeros_like(c)
    y, t, best = z.clone(), 1.0, 0.0
    for _ in range(iters):
        s = (diags[:, :, None] * y).sum(0)
        ds = diags[:, :, None] * s
        w, v = torch.linalg.eigh(y + step * (c - 0.5 * (ds + ds.transpose(-1, -2))))
        z_new = (v * w.clamp(min=0)[:, None, :]) @ v.transpose(-1, -2)
        t_new = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        y, z, t = z_new + (t - 1) / t_new * (z_new - z), z_new, t_new
        s = (diags[:, :, None] * z).sum(0)
        best = max(best, float((z * c).sum() - 0.5 * (s**2).sum()))
    return math.sqrt(2 * best)


def _check_near_minimal(kind: str, d: int, seed: int, iters: int) -> None:
    alpha, target = 0.3, -0.1
    a = _matrix(kind, d, seed)
    res = stabilize(a, alpha, target, rtol=1e-3)
    assert res.delta_initial > target and res.certified
    assert contractivity_delta(res.perturbed_matrix, alpha, "exact").delta <= target + 1e-9
    reference = _dual_reference(a, alpha, target, iters)
    assert reference <= res.epsilon * (1 + 1e-9)  # a lower bound on the minimum cannot exceed a feasible norm
    assert res.epsilon <= 1.01 * reference
    assert res.epsilon_lower_bound <= res.epsilon
    assert res.epsilon < identity_shift(a, alpha, target) * math.sqrt(d)


@pytest.mark.parametrize(("kind", "d", "seed"), [("gaussian", 3, 0), ("nonnormal", 4, 1), ("shifted", 5, 2),
                                                 ("gaussian", 5, 3)])
def test_stabilize_within_one_percent_of_minimum(kind: str, d: int, seed: int) -> None:
    _check_near_minimal(kind, d, seed, 300)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "seed"), [("gaussian", 0), ("nonnormal", 1)])
def test_stabilize_within_one_percent_of_minimum_d8(kind: str, seed: int) -> None:
    _check_near_minimal(kind, 8, seed, 500)


def test_stabilize_scales_and_beats_shift() -> None:
    gen = torch.Generator().manual_seed(1)
    d = 13  # above EXACT_ORACLE_DIM: warm-started ascent oracle, thorough search before stopping
    a = torch.randn(d, d, generator=gen, dtype=torch.float64) * (2.0 / math.sqrt(d))
    res = stabilize(a, 0.2, 0.0, rtol=0.02)
    assert res.converged and res.epsilon <= 1.05 * res.epsilon_lower_bound
    assert contractivity_delta(res.perturbed_matrix, 0.2, "exact").delta <= 1e-9
    assert res.delta <= 1e-9  # the best vertex the final search finds meets the target
    assert res.epsilon < 0.6 * identity_shift(a, 0.2, 0.0) * math.sqrt(d)
    certified = stabilize(a, 0.2, 0.0, certify=True)
    assert certified.certified and certified.delta_upper <= 1e-9
    assert certified.epsilon >= res.epsilon - 1e-12


def test_bad_arguments() -> None:
    a = torch.randn(3, 3, dtype=torch.float64)
    with pytest.raises(ValidationError, match="rtol"):
        stabilize(a, 0.5, 0.0, rtol=0.0)
    with pytest.raises(ValidationError, match="alpha=0"):
        identity_shift(a, 0.0, 0.0)
    with pytest.raises(ValidationError, match="square"):
        contractivity_delta(torch.zeros(2, 3), 0.5)
