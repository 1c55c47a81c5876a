"""Contractivity of the weight-tied neural ODE ``u' = σ(A u + b)`` (seed 002, methods.md §7.2).

The Jacobian of the field is ``D(u) A`` with ``D = diag(σ'(Au + b))`` and ``σ' ∈ [α, 1]``, so the
uniform bound on its logarithmic 2-norm is

    δ(A, α) = max_{D ∈ Ω_α} μ_2(D A),    Ω_α = {D diagonal: α ≤ D_ii ≤ 1}

(Guglielmi, De Marinis, Savostianov, Tudisco, "Contractivity of neural ODEs: an eigenvalue optimization
problem", arXiv:2402.13092). ``D ↦ λ_max(Sym(DA))`` is convex, so the maximum sits at one of the ``2^d``
vertices ``D_ii ∈ {α, 1}``; finding it is combinatorial. Two methods, both returning an interval
``[delta, upper_bound]`` that contains δ:

* ``"exact"`` enumerates the vertices (batched ``eigvalsh``, ``d ≤ MAX_EXACT_DIM``); ``upper_bound = delta``.
* ``"ascent"`` (scalable) is the gradient system of arXiv:2402.13092 on the box: with ``x`` the unit top
  eigenvector of ``Sym(DA)``, ``∂λ_max/∂D_ii = x_i (A x)_i``; the projected flow with an unbounded step is
  the vertex (sign) iteration ``D_ii ← 1 if x_i (A x)_i > 0 else α``, which never decreases ``λ_max`` by
  convexity. It runs from ``restarts`` starts (``D = I``, ``D = αI``, random vertices), keeps the best
  local maxima and, for ``d ≤ polish_max_dim``, polishes them by exact single-entry flips. ``delta`` is
  attained at a vertex, so it is a **lower bound**.

Upper bound (certificate, both methods' ``upper_bound`` for ``"ascent"``). Write ``D = cI + rS`` with
``c = (1+α)/2``, ``r = (1−α)/2``, ``|S_ii| ≤ 1``; then ``x^T D A x ≤ c x^T A x + r Σ_i |x_i (Ax)_i|`` and
``|x_i y_i| ≤ (t_i x_i² + y_i²/t_i)/2`` for any ``t_i > 0`` give, for every positive diagonal ``T``,

    δ ≤ U(T) = λ_max( c Sym(A) + (r/2) (T + Aᵀ T⁻¹ A) ).

``U`` is convex in ``log t`` and is minimised by L-BFGS from ``t_i = |(Ax)_i / x_i|`` at the best vertex's
eigenvector (where ``x`` is an eigenvector of the bound's matrix with eigenvalue ``delta``, so the bound is
often tight). Any ``T`` gives a valid bound, so the returned ``upper_bound`` is rigorous up to round-off.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from ..errors import ValidationError
from ..validation import check_choice, check_positive_int
from ._utils import as_square, check_alpha

#: Largest dimension for which ``method="exact"`` enumerates all vertices.
MAX_EXACT_DIM = 16
#: Largest dimension for which the ascent polishes its local maxima by exact single flips (d eigvalsh each).
POLISH_MAX_DIM = 32
_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class ContractivityResult:
    """Result of :func:`contractivity_delta`; the true δ lies in ``[delta, upper_bound]``.

    Attributes:
        delta: ``μ_2(DA)`` at the best vertex found (exact for ``"exact"``, a lower bound for ``"ascent"``).
        d: the maximising diagonal ``[d]`` (entries in ``{α, 1}``).
        eigenvector: unit eigenvector ``x [d]`` of ``Sym(DA)`` for ``delta``.
        upper_bound: certified ``δ ≤ upper_bound`` (equal to ``delta`` for the exact method; the diagonal
            scaling bound ``U(T)`` for the ascent, ``inf`` when ``certify=False``).
        is_lower_bound: True for the ascent (``delta`` may be below δ), False for exact enumeration.
        method: ``"exact"`` or ``"ascent"``.
    """

    delta: float
    d: torch.Tensor
    eigenvector: torch.Tensor
    upper_bound: float
    is_lower_bound: bool
    method: str

    @property
    def gap(self) -> float:
        """Width ``upper_bound − delta`` of the certified interval (0 for the exact method)."""
        return self.upper_bound - self.delta

    def __float__(self) -> float:
        return self.delta


def _sym_eigh(a: torch.Tensor, diags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of ``Sym(diag(D) A)`` for diagonals ``diags [n, d]``."""
    m = diags.unsqueeze(-1) * a
    return torch.linalg.eigh(0.5 * (m + m.transpose(-1, -2)))


def _box(alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(alpha, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)


def _vertices(d: int, alpha: float, start: int, stop: int) -> torch.Tensor:
    """Vertices number ``start … stop-1`` of ``Ω_α`` as ``[n, d]`` (bit i of the index → D_ii = α)."""
    idx = torch.arange(start, stop, dtype=torch.int64).unsqueeze(-1)
    bits = (idx >> torch.arange(d, dtype=torch.int64)) & 1
    lo, hi = _box(alpha)
    return torch.where(bits.bool(), lo, hi)


def random_vertices(n: int, d: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """``n`` vertices of ``Ω_α`` with independent fair entries ``{α, 1}``, as ``[n, d]``."""
    lo, hi = _box(alpha)
    return torch.where(torch.rand(n, d, generator=gen, dtype=torch.float64) < 0.5, lo, hi)


def _exact(a: torch.Tensor, alpha: float) -> ContractivityResult:
    d = a.shape[0]
    n = 1 if alpha == 1.0 else 2**d
    best_val, best_d, best_x = -math.inf, None, None
    for start in range(0, n, _CHUNK):
        diags = _vertices(d, alpha, start, min(n, start + _CHUNK))
        vals, vecs = _sym_eigh(a, diags)
        k = int(torch.argmax(vals[:, -1]))
        if float(vals[k, -1]) > best_val:
            best_val, best_d, best_x = float(vals[k, -1]), diags[k].clone(), vecs[k, :, -1].clone()
    return ContractivityResult(best_val, best_d, best_x, best_val, False, "exact")


def climb(a: torch.Tensor, alpha: float, diags: torch.Tensor, max_steps: int,
          eig: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Vertex iteration ``D_ii ← 1 if x_i(Ax)_i > 0 else α`` from each row of ``diags [n, d]``.

    A row moves only when ``λ_max`` strictly increases, so every row ends at a vertex whose value is at
    least its start's. Returns ``(diags, eigenvalues [n, d], eigenvectors [n, d, d])`` of ``Sym(DA)``.
    """
    lo, hi = _box(alpha)
    vals, vecs = _sym_eigh(a, diags) if eig is None else eig
    for _ in range(max_steps):
        x = vecs[..., -1]
        grad = x * (x @ a.T)
        new = torch.where(grad > 0, hi, torch.where(grad < 0, lo, diags))
        moved = (new != diags).any(dim=-1)
        if not bool(moved.any()):
            break
        new_vals, new_vecs = _sym_eigh(a, new[moved])
        better = new_vals[:, -1] > vals[moved][:, -1]
        if not bool(better.any()):
            break
        idx = moved.nonzero()[:, 0][better]
        diags, vals, vecs = diags.clone(), vals.clone(), vecs.clone()
        diags[idx], vals[idx], vecs[idx] = new[idx], new_vals[better], new_vecs[better]
    return diags, vals, vecs


def _polish(a: torch.Tensor, alpha: float, diag: torch.Tensor, val: float) -> tuple[torch.Tensor, float]:
    """Best-improvement search over the ``d`` single-entry flips of a vertex (exact ``eigvalsh`` each)."""
    d = a.shape[0]
    lo, hi = _box(alpha)
    eye = torch.eye(d, dtype=torch.bool)
    while True:
        flipped = torch.where(diag == hi, lo, hi)
        nbrs = torch.where(eye, flipped.unsqueeze(0), diag.unsqueeze(0))
        m = nbrs.unsqueeze(-1) * a
        vals = torch.linalg.eigvalsh(0.5 * (m + m.transpose(-1, -2)))[:, -1]
        k = int(torch.argmax(vals))
        if float(vals[k]) <= val:
            return diag, val
        diag, val = nbrs[k], float(vals[k])


def delta_upper_bound(a: torch.Tensor, alpha: float, x: torch.Tensor | None = None, max_iter: int = 100) -> float:
    """Certified ``δ(A, α) ≤ min_T λ_max(c Sym(A) + (r/2)(T + Aᵀ T⁻¹ A))`` (see the module docstring).

    ``a``: float64 ``[d, d]``; ``x``: a unit vector ``[d]`` (the best vertex's eigenvector) that sets the start
    ``t_i = |(Ax)_i / x_i|``. Returns the smallest bound met during the L-BFGS minimisation over ``log t``.
    """
    if alpha == 1.0:
        return float(torch.linalg.eigvalsh(0.5 * (a + a.T))[-1])
    c, r = 0.5 * (1.0 + alpha), 0.5 * (1.0 - alpha)
    an = a.numpy()
    sym = c * 0.5 * (an + an.T)
    scale = float(np.linalg.norm(an, 2)) + 1e-300
    if x is None:
        s0 = np.full(an.shape[0], math.log(scale))
    else:
        xn = x.numpy()
        s0 = np.log((np.abs(an @ xn) + 1e-12 * scale) / (np.abs(xn) + 1e-12))
    best = [math.inf]

    def bound(s: np.ndarray) -> tuple[float, np.ndarray]:
        t = np.exp(np.clip(s, -700.0, 700.0))
        w, v = np.linalg.eigh(sym + 0.5 * r * (np.diag(t) + an.T @ (an / t[:, None])))
        top, y = v[:, -1], an @ v[:, -1]
        best[0] = min(best[0], float(w[-1]))
        return float(w[-1]), 0.5 * r * (t * top**2 - y**2 / t)

    minimize(bound, s0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    # round-off of the eigensolver: widen by a few ulps of the matrix scale so the bound stays rigorous
    return best[0] + 64 * np.finfo(np.float64).eps * scale * an.shape[0]


def _ascent(a: torch.Tensor, alpha: float, restarts: int, max_iter: int, seed: int, certify: bool,
            starts: torch.Tensor | None = None) -> ContractivityResult:
    d = a.shape[0]
    gen = torch.Generator().manual_seed(seed)
    init = random_vertices(restarts, d, alpha, gen)
    init[0] = 1.0  # D = I and D = αI are always among the starts
    if restarts > 1:
        init[1] = alpha
    if starts is not None:
        init = torch.cat([starts, init])
    diags, vals, vecs = climb(a, alpha, init, max_iter)
    order = torch.argsort(vals[:, -1], descending=True)
    best_d, best_val = diags[order[0]], float(vals[order[0], -1])
    if d <= POLISH_MAX_DIM and alpha < 1.0:
        seen: list[torch.Tensor] = []
        for k in order.tolist():
            if len(seen) == 4:
                break
            if any(torch.equal(diags[k], s) for s in seen):
                continue
            seen.append(diags[k])
            cand, val = _polish(a, alpha, diags[k], float(vals[k, -1]))
            if val > best_val:
                best_d, best_val = cand, val
    w, v = _sym_eigh(a, best_d.unsqueeze(0))
    x = v[0, :, -1]
    upper = max(delta_upper_bound(a, alpha, x), float(w[0, -1])) if certify else math.inf
    return ContractivityResult(float(w[0, -1]), best_d.clone(), x.clone(), upper, True, "ascent")


def contractivity_delta(a: Any, alpha: float, method: str = "auto", *, restarts: int = 16,
                        max_iter: int = 100, seed: int = 0, certify: bool = True) -> ContractivityResult:
    """``δ = max_{α ≤ D_ii ≤ 1} μ_2(D A)``: uniform bound on the log-norm of the Jacobian of ``σ(Au + b)``.

    Args:
        a: weight matrix ``A [d, d]`` (tensor or array, used in float64 without gradient).
        alpha: lower bound of the activation slopes, ``σ' ∈ [α, 1]``, in ``[0, 1]``.
        method: ``"exact"`` (vertex enumeration, ``d ≤ MAX_EXACT_DIM``), ``"ascent"`` (the scalable vertex
            iteration with ``restarts`` starts; a lower bound plus a certified upper bound) or ``"auto"``
            (exact when ``d ≤ 12``, where enumeration costs milliseconds, else ascent).
        restarts, max_iter, seed: ascent settings (deterministic for a given seed).
        certify: compute the upper bound for the ascent (one small convex minimisation; ``inf`` if False).

    Returns:
        :class:`ContractivityResult` (convert with ``float(result)``); δ lies in ``[delta, upper_bound]``.
        Cost of the ascent: ``restarts × (steps + 1)`` symmetric ``d×d`` eigendecompositions, plus ``d``
        eigenvalue solves per polish sweep of the 4 best local maxima (``d ≤ POLISH_MAX_DIM``), plus the
        bound's L-BFGS (≤ 100 iterations of one ``d×d`` eigendecomposition each).
    """
    m = as_square(a)
    alpha = check_alpha(alpha)
    method = check_choice(method, "method", ("auto", "exact", "ascent"))
    restarts = check_positive_int(restarts, "restarts")
    max_iter = check_positive_int(max_iter, "max_iter")
    d = m.shape[0]
    if method == "auto":
        method = "exact" if d <= 12 else "ascent"
    if method == "exact":
        if d > MAX_EXACT_DIM:
            raise ValidationError(f"method='exact' enumerates 2^d vertices and is limited to d <= "
                                  f"{MAX_EXACT_DIM} (got d={d}); use method='ascent' (lower and upper bound)")
        return _exact(m, alpha)
    return _ascent(m, alpha, restarts, max_iter, seed, bool(certify))


def flow_lipschitz_bound(a: Any, alpha: float, t: float = 1.0, method: str = "auto") -> float:
    """Bound on the Lipschitz constant of the time-``t`` flow map of ``u' = σ(Au + b)``.

    ``‖u(t) − v(t)‖_2 ≤ e^{δ t} ‖u(0) − v(0)‖_2`` with ``δ = contractivity_delta(A, α)`` (seed 002; the
    standard log-norm estimate). ``t ≥ 0`` is the horizon (units of the model's time). The certified
    ``upper_bound`` of δ is used, so the returned value is a valid bound for the ascent too.
    """
    if not math.isfinite(float(t)) or float(t) < 0:
        raise ValidationError(f"t must be a finite horizon >= 0, got {t!r}")
    return math.exp(contractivity_delta(a, alpha, method).upper_bound * float(t))
