"""Contractivity of the weight-tied neural ODE ``u' = σ(A u + b)`` (seed 002, methods.md §7.2).

The Jacobian of the field is ``D(u) A`` with ``D = diag(σ'(Au + b))`` and ``σ' ∈ [α, 1]``, so the
uniform bound on its logarithmic 2-norm is

    δ(A, α) = max_{D ∈ Ω_α} μ_2(D A),    Ω_α = {D diagonal: α ≤ D_ii ≤ 1}.

``D ↦ λ_max(Sym(DA))`` is convex, so the maximum sits at one of the ``2^d`` vertices ``D_ii ∈ {α, 1}``.
``method="exact"`` enumerates them (batched ``eigvalsh``, for ``d ≤ MAX_EXACT_DIM``: 2^16 = 65536 symmetric
16×16 eigenproblems take a few seconds on one core; each extra dimension doubles that, so beyond 16 the
ascent is the practical choice). ``method="ascent"`` runs the sign (fixed-point) iteration
``D_ii ← 1 if x_i (A x)_i > 0 else α`` from random vertices; by convexity each step does not decrease
``μ_2(DA)``, and the best value found is a *lower bound* on δ.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ..errors import ValidationError
from ..validation import check_choice, check_positive_int
from ._utils import as_square, check_alpha

#: Largest dimension for which ``method="exact"`` enumerates all vertices.
MAX_EXACT_DIM = 16
_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class ContractivityResult:
    """Result of :func:`contractivity_delta`.

    Attributes:
        delta: the value ``max_D μ_2(DA)`` found (exact, or a lower bound for the ascent).
        d: the maximising diagonal ``[d]`` (entries in ``{α, 1}``).
        eigenvector: unit eigenvector ``x [d]`` of ``Sym(DA)`` for ``delta``.
        is_lower_bound: True for the ascent (the global maximum may be larger), False for exact enumeration.
        method: ``"exact"`` or ``"ascent"``.
    """

    delta: float
    d: torch.Tensor
    eigenvector: torch.Tensor
    is_lower_bound: bool
    method: str

    def __float__(self) -> float:
        return self.delta


def _top_eig(a: torch.Tensor, diags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``λ_max`` and its eigenvector of ``Sym(diag(D) A)`` for a batch of diagonals ``diags [n, d]``."""
    m = diags.unsqueeze(-1) * a
    vals, vecs = torch.linalg.eigh(0.5 * (m + m.transpose(-1, -2)))
    return vals[:, -1], vecs[:, :, -1]


def _vertices(d: int, alpha: float, start: int, stop: int) -> torch.Tensor:
    """Vertices number ``start … stop-1`` of ``Ω_α`` as ``[n, d]`` (bit i of the index → D_ii = α)."""
    idx = torch.arange(start, stop, dtype=torch.int64).unsqueeze(-1)
    bits = (idx >> torch.arange(d, dtype=torch.int64)) & 1
    lo, hi = torch.tensor(alpha, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    return torch.where(bits.bool(), lo, hi)


def _exact(a: torch.Tensor, alpha: float) -> ContractivityResult:
    d = a.shape[0]
    n = 1 if alpha == 1.0 else 2**d
    best_val, best_d, best_x = -math.inf, None, None
    for start in range(0, n, _CHUNK):
        diags = _vertices(d, alpha, start, min(n, start + _CHUNK))
        vals, vecs = _top_eig(a, diags)
        k = int(torch.argmax(vals))
        if float(vals[k]) > best_val:
            best_val, best_d, best_x = float(vals[k]), diags[k].clone(), vecs[k].clone()
    return ContractivityResult(best_val, best_d, best_x, False, "exact")


def _ascent(a: torch.Tensor, alpha: float, restarts: int, max_iter: int, seed: int) -> ContractivityResult:
    d = a.shape[0]
    gen = torch.Generator().manual_seed(seed)
    lo, hi = torch.tensor(alpha, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    starts = torch.where(torch.rand(restarts, d, generator=gen, dtype=torch.float64) < 0.5, lo, hi)
    starts[0] = 1.0  # D = I and D = αI are always among the starts
    if restarts > 1:
        starts[1] = alpha
    diags = starts
    for _ in range(max_iter):
        vals, vecs = _top_eig(a, diags)
        grad = vecs * (vecs @ a.T)  # ∂μ_2/∂D_ii = x_i (A x)_i
        new = torch.where(grad > 0, hi, lo)
        new = torch.where(grad == 0, diags, new)
        new_vals, _ = _top_eig(a, new)
        # accept a changed vertex only if it does not decrease μ_2 (monotone by convexity, up to round-off)
        accept = (new != diags).any(dim=-1) & (new_vals > vals)
        if not bool(accept.any()):
            break
        diags = torch.where(accept.unsqueeze(-1), new, diags)
    vals, vecs = _top_eig(a, diags)
    k = int(torch.argmax(vals))
    return ContractivityResult(float(vals[k]), diags[k].clone(), vecs[k].clone(), True, "ascent")


def contractivity_delta(a: Any, alpha: float, method: str = "auto", *, restarts: int = 16,
                        max_iter: int = 100, seed: int = 0) -> ContractivityResult:
    """``δ = max_{α ≤ D_ii ≤ 1} μ_2(D A)``: uniform bound on the log-norm of the Jacobian of ``σ(Au + b)``.

    Args:
        a: weight matrix ``A [d, d]`` (tensor or array, used in float64 without gradient).
        alpha: lower bound of the activation slopes, ``σ' ∈ [α, 1]``, in ``[0, 1]``.
        method: ``"exact"`` (vertex enumeration, ``d ≤ MAX_EXACT_DIM``), ``"ascent"`` (sign iteration with
            ``restarts`` random starts; a lower bound) or ``"auto"`` (exact when ``d ≤ MAX_EXACT_DIM``).
        restarts, max_iter, seed: ascent settings (deterministic for a given seed).

    Returns:
        :class:`ContractivityResult` (convert with ``float(result)``).
    """
    m = as_square(a)
    alpha = check_alpha(alpha)
    method = check_choice(method, "method", ("auto", "exact", "ascent"))
    restarts = check_positive_int(restarts, "restarts")
    max_iter = check_positive_int(max_iter, "max_iter")
    d = m.shape[0]
    if method == "auto":
        method = "exact" if d <= MAX_EXACT_DIM else "ascent"
    if method == "exact":
        if d > MAX_EXACT_DIM:
            raise ValidationError(f"method='exact' enumerates 2^d vertices and is limited to d <= "
                                  f"{MAX_EXACT_DIM} (got d={d}); use method='ascent' for a lower bound")
        return _exact(m, alpha)
    return _ascent(m, alpha, restarts, max_iter, seed)


def flow_lipschitz_bound(a: Any, alpha: float, t: float = 1.0, method: str = "auto") -> float:
    """Bound on the Lipschitz constant of the time-``t`` flow map of ``u' = σ(Au + b)``.

    ``‖u(t) − v(t)‖_2 ≤ e^{δ t} ‖u(0) − v(0)‖_2`` with ``δ = contractivity_delta(A, α)`` (seed 002; the
    standard log-norm estimate). ``t ≥ 0`` is the horizon (units of the model's time). With the ascent,
    δ is only a lower bound and so is the returned value.
    """
    if not math.isfinite(float(t)) or float(t) < 0:
        raise ValidationError(f"t must be a finite horizon >= 0, got {t!r}")
    return math.exp(contractivity_delta(a, alpha, method).delta * float(t))
