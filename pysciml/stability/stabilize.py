"""Smallest Frobenius-norm weight perturbation that enforces a contractivity bound (seed 002).

Given ``A [d, d]``, the slope bound ``α`` and a target ``δ̄``, find ``Δ`` of minimal ``‖Δ‖_F`` with

    δ(A + Δ) = max_{α ≤ D_ii ≤ 1} μ_2(D (A + Δ)) ≤ δ̄.

Two-level method (De Marinis–Guglielmi–Sicilia–Tudisco, arXiv:2501.10740; methods.md §7.2), ``Δ = ε E``:

* inner level, fixed amplitude ε: minimise ``F(E) = δ(A + εE)`` on the unit sphere ``‖E‖_F = 1`` by the
  norm-preserving gradient flow ``Ė = −G + ⟨G, E⟩ E`` with ``G = (D x) xᵀ`` (``D``, ``x``: maximising vertex
  and top eigenvector of ``Sym(D(A + εE))``), discretised with step-size control (accept only decreases);
* outer level: Newton on ``φ(ε) = min_E F(E) = δ̄`` with ``φ'(ε) = ⟨G, E⟩``, safeguarded by bisection
  in a bracket whose upper end is the scaled-identity shift ``Δ = −s I`` that achieves ``δ̄`` (so the
  result is never worse than that shift).

The inner flow stalls where two vertices or eigenvalues tie (``δ`` is non-smooth there); the bracket keeps the
returned ``Δ`` feasible in every case. ``δ`` is evaluated exactly for ``d ≤ MAX_EXACT_DIM`` and by the
ascent (a lower bound, so no guarantee) above.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ..validation import check_positive_int
from ._utils import as_square, check_alpha
from .contractivity import MAX_EXACT_DIM, _ascent, _exact


@dataclasses.dataclass(frozen=True)
class StabilizationResult:
    """Result of :func:`stabilize`.

    Attributes:
        delta_matrix: the perturbation ``Δ [d, d]`` (zero when ``A`` already meets the target).
        perturbed_matrix: ``A + Δ``.
        delta: achieved ``δ(A + Δ)``; ``≤ delta_target + tol``.
        delta_initial: ``δ(A)``.
        delta_target: the requested ``δ̄``.
        epsilon: ``‖Δ‖_F``.
        identity_shift_norm: ``‖Δ‖_F`` of the scaled-identity shift ``−sI`` achieving ``δ̄`` (the baseline).
        iterations: outer (amplitude) iterations.
        inner_iterations: accepted inner gradient steps, summed.
        converged: True when the amplitude bracket closed to the tolerance.
    """

    delta_matrix: torch.Tensor
    perturbed_matrix: torch.Tensor
    delta: float
    delta_initial: float
    delta_target: float
    epsilon: float
    identity_shift_norm: float
    iterations: int
    inner_iterations: int
    converged: bool


class _Objective:
    """``δ(M)`` with its gradient ``G = (D x) xᵀ`` with respect to ``M``."""

    def __init__(self, alpha: float, d: int) -> None:
        self.alpha = alpha
        self.exact = d <= MAX_EXACT_DIM

    def __call__(self, m: torch.Tensor) -> tuple[float, torch.Tensor]:
        res = _exact(m, self.alpha) if self.exact else _ascent(m, self.alpha, 8, 100, 0)
        x = res.eigenvector
        return res.delta, torch.outer(res.d * x, x)


def _identity_shift(f: _Objective, a: torch.Tensor, delta0: float, target: float, tol: float) -> float:
    """Smallest ``s ≥ 0`` (to ``tol``) with ``δ(A − sI) ≤ δ̄``, by bisection (δ is non-increasing in s)."""
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    lo, hi = 0.0, (delta0 - target) / f.alpha  # Sym(D(A − sI)) ≤ Sym(DA) − sα I
    for _ in range(200):
        if hi - lo <= tol * max(hi, 1.0):
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(a - mid * eye)[0] > target else (lo, mid)
    return hi


def _inner(f: _Objective, a: torch.Tensor, eps: float, e: torch.Tensor, max_steps: int,
           grad_tol: float) -> tuple[torch.Tensor, float, torch.Tensor, int]:
    """Projected gradient descent of ``δ(A + εE)`` on the unit sphere; returns ``E, δ, G, accepted steps``."""
    val, g = f(a + eps * e)
    h, accepted = 0.5, 0
    for _ in range(max_steps):
        p = g - torch.sum(g * e) * e
        if float(torch.linalg.norm(p)) <= grad_tol or h < 1e-12:
            break
        trial = e - h * p
        trial = trial / torch.linalg.norm(trial)
        tval, tg = f(a + eps * trial)
        if tval < val:
            e, val, g, h, accepted = trial, tval, tg, min(2.0 * h, 4.0), accepted + 1
        else:
            h *= 0.5
    return e, val, g, accepted


def stabilize(a: Any, alpha: float, delta_target: float, *, tol: float = 1e-9, max_outer: int = 60,
              max_inner: int = 200) -> StabilizationResult:
    """Minimal-Frobenius-norm ``Δ`` with ``max_{α≤D≤1} μ_2(D(A+Δ)) ≤ δ̄`` (two-level method, seed 002).

    Args:
        a: weight matrix ``A [d, d]`` (float64 internally, no gradient).
        alpha: activation slope lower bound ``α ∈ [0, 1]`` (``σ' ∈ [α, 1]``). For ``α = 0`` every ``δ`` is
            ``≥ 0`` (``D = 0`` is allowed), so ``delta_target`` must then be positive.
        delta_target: ``δ̄``, the wanted bound on the log-norm of the Jacobian (0 gives a non-expansive flow).
        tol: feasibility tolerance on ``δ`` and relative tolerance on the amplitude.
        max_outer, max_inner: iteration caps of the two levels.

    Returns:
        :class:`StabilizationResult`; ``delta_matrix`` is returned in ``A``'s dtype if ``A`` is a tensor.
    """
    m = as_square(a)
    alpha = check_alpha(alpha)
    if isinstance(delta_target, bool) or not isinstance(delta_target, (int, float)):
        raise InputTypeError(f"delta_target must be a float, got {type(delta_target).__name__}")
    target = float(delta_target)
    if not math.isfinite(target):
        raise ValidationError(f"delta_target must be finite, got {delta_target!r}")
    if alpha == 0.0 and target <= 0.0:
        raise ValidationError("with alpha=0 the bound max_D mu_2(DA) is >= 0 for every A (D=0 is allowed); "
                              "pass delta_target > 0 or an activation with alpha > 0")
    max_outer = check_positive_int(max_outer, "max_outer")
    max_inner = check_positive_int(max_inner, "max_inner")
    out_dtype = a.dtype if isinstance(a, torch.Tensor) and a.is_floating_point() else torch.float64
    d = m.shape[0]
    f = _Objective(alpha, d)
    delta0, g0 = f(m)

    def result(delta_matrix: torch.Tensor, delta: float, shift_norm: float, outer: int, inner: int,
               converged: bool) -> StabilizationResult:
        return StabilizationResult(delta_matrix.to(out_dtype), (m + delta_matrix).to(out_dtype), delta,
                                   delta0, target, float(torch.linalg.norm(delta_matrix)), shift_norm, outer,
                                   inner, converged)

    if delta0 <= target + tol:
        return result(torch.zeros_like(m), delta0, 0.0, 0, 0, True)

    s = _identity_shift(f, m, delta0, target, tol)
    eps_hi, e_hi = s * math.sqrt(d), -torch.eye(d, dtype=m.dtype) / math.sqrt(d)
    val_hi = f(m + eps_hi * e_hi)[0]
    eps_lo = 0.0
    gnorm = float(torch.linalg.norm(g0))
    e = -g0 / gnorm if gnorm > 0 else e_hi.clone()
    eps = min(eps_hi, (delta0 - target) / max(gnorm, 1e-300))
    inner_total, outer, converged = 0, 0, False
    while outer < max_outer:
        outer += 1
        # warm start from the last inner minimiser (the direction changes slowly with ε)
        e, val, g, steps = _inner(f, m, eps, e, max_inner, grad_tol=1e-10)
        inner_total += steps
        if val <= target + tol:
            if eps < eps_hi or val < val_hi:
                eps_hi, e_hi, val_hi = eps, e.clone(), val
        else:
            eps_lo = max(eps_lo, eps)
        if eps_hi - eps_lo <= tol * max(eps_hi, 1e-300) or abs(val - target) <= tol:
            converged = True
            break
        slope = float(torch.sum(g * e))  # φ'(ε) = ⟨G, E⟩ ≤ 0 at inner stationarity
        step = eps - (val - target) / slope if slope < 0 else math.nan
        eps = step if eps_lo < step < eps_hi else 0.5 * (eps_lo + eps_hi)
    return result(eps_hi * e_hi, val_hi, s * math.sqrt(d), outer, inner_total, converged)
