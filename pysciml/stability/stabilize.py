"""Smallest Frobenius-norm weight perturbation that enforces a contractivity bound (seed 002).

Given ``A [d, d]``, the slope bound ``α`` and a target ``δ̄``, find ``Δ`` of minimal ``‖Δ‖_F`` with

    δ(A + Δ) = max_{α ≤ D_ii ≤ 1} μ_2(D (A + Δ)) ≤ δ̄

(De Marinis, Guglielmi, Sicilia, Tudisco, "Stability of neural ODEs by a control over the expansivity of
their flows" / "Improving the robustness of neural ODEs with minimal weight perturbation", arXiv:2501.10740).

That paper's two-level method fixes the amplitude ``ε = ‖Δ‖_F`` and runs a gradient flow for ``E``
(``‖E‖_F = 1``) driven by the rank-one gradient ``G = (D x) xᵀ`` of the single active vertex ``D`` and
top eigenvector ``x``; at an optimum ``E ∝ −G``. The optimum of this problem, however, sits where many
vertices and eigenvalues tie at ``δ̄`` (δ is not differentiable there), so a single-vertex flow stalls; the
previous implementation of it stayed within 0.5% of an identity shift at d = 64. We solve the same problem
with the same ingredients by using that it is **convex**: ``B ↦ δ(B)`` is a maximum of convex functions, so
``{B: δ(B) ≤ δ̄}`` is the intersection of the half-spaces ``⟨(D x) xᵀ, B⟩ ≤ δ̄`` over vertices ``D`` and unit
``x``, and ``A + Δ*`` is the Frobenius projection of ``A`` onto that convex set. Outer approximation (Kelley):

* inner level (master): for the cuts ``G_j = (D_j x_j) x_jᵀ`` collected so far, the optimal perturbation is
  ``Δ = −Σ_j μ_j G_j`` — the paper's stationarity ``E ∝ −G`` for several active pairs — with ``μ ≥ 0``
  maximising the dual ``g(μ) = Σ_j μ_j (x_jᵀ D_j A x_j − δ̄) − ½ ‖Σ_j μ_j G_j‖_F²`` (a small QP in ``μ`` with
  Gram matrix ``⟨G_j, G_l⟩ = (x_j·x_l)(D_j x_j · D_l x_l)``, solved by a primal-dual active-set method);
* outer level (oracle): the vertex ascent of :mod:`.contractivity` (exact enumeration for ``d ≤ 10``) on
  ``A + Δ`` finds the violated vertices; the eigenvectors of ``Sym(D(A + Δ))`` with eigenvalues above
  ``δ̄ − v`` (``v`` the largest violation; at most ``d`` per iteration) become cuts. Before stopping, a
  thorough search (16 restarts, polish) re-examines the candidate and, if it finds a violation, adds its cut.

Certificates. Weak duality gives ``‖Δ*‖_F ≥ sqrt(2 g(μ))`` for every ``μ ≥ 0`` and any set of cuts, so
``epsilon_lower_bound`` is a rigorous lower bound on the minimal norm whatever the oracle found. Every
iterate ``A + Δ`` with violation ``v`` becomes feasible after the shift ``−(v/α) I`` because
``Sym(D(B − sI)) ⪯ Sym(DB) − sα I``; the best such candidate is returned, after a final check of ``δ`` by
exact enumeration (``d ≤ 12``) or by the ascent with its certified upper bound, and a last shift if the
δ found (with ``certify=True``: the upper bound) exceeds ``δ̄``. The iteration stops when
``‖Δ‖_F ≤ (1 + rtol) · epsilon_lower_bound``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from scipy.optimize import nnls

from ..errors import InputTypeError, ValidationError
from ..validation import check_positive_int
from ._utils import as_square, check_alpha
from .contractivity import ContractivityResult, _ascent, _exact, _sym_eigh, _vertices, climb, random_vertices

#: Dimension up to which the oracle enumerates all vertices in every iteration.
EXACT_ORACLE_DIM = 10
#: Dimension up to which the final check and the identity shift use exact enumeration.
EXACT_CHECK_DIM = 12
_MAX_VERTICES = 32  # violated vertices turned into cuts per iteration (the most violated first)


@dataclasses.dataclass(frozen=True)
class StabilizationResult:
    """Result of :func:`stabilize`.

    Attributes:
        delta_matrix: the perturbation ``Δ [d, d]`` (zero when ``A`` already meets the target).
        perturbed_matrix: ``A + Δ``.
        delta: ``δ(A + Δ)`` at the best vertex found by the final check (exact for ``d ≤ 12``).
        delta_upper: certified upper bound on ``δ(A + Δ)`` (``= delta`` for ``d ≤ 12``).
        delta_initial: ``δ(A)`` (same method as ``delta``).
        delta_target: the requested ``δ̄``.
        epsilon: ``‖Δ‖_F``.
        epsilon_lower_bound: certified lower bound on the minimal ``‖Δ‖_F`` (dual value of the master).
        iterations: cutting-plane iterations.
        n_cuts: cuts with a positive multiplier at the end (rank-one terms of ``Δ`` before the final shift).
        converged: True when ``epsilon ≤ (1 + rtol) · epsilon_lower_bound`` was reached (or ``Δ = 0``).
        certified: True when ``delta_upper ≤ delta_target + tol``.
    """

    delta_matrix: torch.Tensor
    perturbed_matrix: torch.Tensor
    delta: float
    delta_upper: float
    delta_initial: float
    delta_target: float
    epsilon: float
    epsilon_lower_bound: float
    iterations: int
    n_cuts: int
    converged: bool
    certified: bool


def _check(m: torch.Tensor, alpha: float, seed: int, starts: torch.Tensor | None = None,
           certify: bool = True) -> ContractivityResult:
    """δ of ``m``: exact for small ``d``, otherwise the ascent (warm ``starts``, optional upper bound)."""
    if m.shape[0] <= EXACT_CHECK_DIM:
        return _exact(m, alpha)
    return _ascent(m, alpha, 16, 100, seed, certify, starts)


class _Oracle:
    """Violated vertices of ``Sym(D B) ⪯ δ̄ I``: exact enumeration (small d) or warm-started ascent."""

    def __init__(self, d: int, alpha: float, restarts: int, seed: int) -> None:
        self.alpha, self.restarts, self.calls = alpha, restarts, 0
        self.gen = torch.Generator().manual_seed(seed)
        self.all = _vertices(d, alpha, 0, 1 if alpha == 1.0 else 2**d) if d <= EXACT_ORACLE_DIM else None
        self.warm = random_vertices(restarts, d, alpha, self.gen)
        self.warm[0] = 1.0

    def __call__(self, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Distinct vertices ``[n, d]`` sorted by decreasing ``λ_max``, with their eigenvalues and vectors."""
        self.calls += 1
        if self.all is not None:
            diags = self.all
            vals, vecs = _sym_eigh(b, diags)
        else:
            fresh = (self.calls - 1) % 5 == 0  # every 5th call: fresh random starts, climbed to the top
            starts = self.warm
            if fresh:
                starts = torch.cat([starts, random_vertices(self.restarts, b.shape[0], self.alpha, self.gen)])
            diags, vals, vecs = climb(b, self.alpha, starts, 30 if fresh else 3)
            uniq, inv = torch.unique(diags, dim=0, return_inverse=True)
            first = torch.full((uniq.shape[0],), diags.shape[0], dtype=torch.int64)
            first.scatter_reduce_(0, inv, torch.arange(diags.shape[0]), "amin")
            diags, vals, vecs = diags[first], vals[first], vecs[first]
        order = torch.argsort(vals[:, -1], descending=True)[: max(_MAX_VERTICES, 2 * self.restarts)]
        diags, vals, vecs = diags[order], vals[order], vecs[order]
        if self.all is None:
            self.warm = diags[: 2 * self.restarts]
        return diags, vals, vecs


def _master(x: torch.Tensor, dx: torch.Tensor, b: torch.Tensor, mu0: torch.Tensor) -> torch.Tensor:
    """``argmax_{μ ≥ 0} bᵀμ − ½ μᵀKμ`` with ``K = (XXᵀ)∘(DX DXᵀ)``; primal-dual active set, NNLS fallback."""
    k = (x @ x.T) * (dx @ dx.T)
    k = k + 1e-12 * float(k.diagonal().mean()) * torch.eye(k.shape[0], dtype=k.dtype)
    free = mu0 > 0
    tol = 1e-13 * (1.0 + float(b.abs().max()))
    for _ in range(30):
        mu = torch.zeros_like(b)
        if bool(free.any()):
            chol, info = torch.linalg.cholesky_ex(k[free][:, free])
            if int(info) != 0:
                break
            mu[free] = torch.cholesky_solve(b[free, None], chol)[:, 0]
        grad = k @ mu - b
        new_free = torch.where(free, mu > 0, grad < -tol)
        if torch.equal(new_free, free) and bool((mu >= 0).all()):
            return mu
        free = new_free
    chol = torch.linalg.cholesky(k)
    rhs = torch.linalg.solve_triangular(chol, b[:, None], upper=False)[:, 0]
    return torch.as_tensor(nnls(chol.T.numpy(), rhs.numpy(), maxiter=50 * k.shape[0])[0])


def _check_problem(a: Any, alpha: Any, delta_target: Any) -> tuple[torch.Tensor, float, float]:
    """Validated ``(A as float64 [d, d], α, δ̄)``; α = 0 needs δ̄ > 0 (D = 0 makes every δ ≥ 0)."""
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
    return m, alpha, target


def identity_shift(a: Any, alpha: float, delta_target: float, *, tol: float = 1e-9, seed: int = 0) -> float:
    """Baseline: the smallest ``c ≥ 0`` with ``δ(A − cI) ≤ δ̄``; its perturbation ``−cI`` has ``‖·‖_F = c√d``.

    Newton on the convex, non-increasing ``c ↦ δ(A − cI)`` (derivative ``−xᵀDx`` at the maximising vertex):
    from ``c = 0`` the iterates increase monotonically to the root. δ is exact for ``d ≤ 12``; above, it is
    the ascent's lower bound, so ``c`` is a lower estimate of the needed shift.
    """
    a, alpha, target = _check_problem(a, alpha, delta_target)
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    c = 0.0
    for _ in range(100):
        m = a - c * eye
        res = _exact(m, alpha) if a.shape[0] <= EXACT_CHECK_DIM else _ascent(m, alpha, 16, 100, seed, False)
        if res.delta <= target + tol:
            return c
        slope = float(res.eigenvector @ (res.d * res.eigenvector))
        if slope <= 0.0:  # α = 0 and x supported where D = 0: δ cannot drop along −I at this vertex
            raise ValidationError("no identity shift reaches delta_target (alpha=0 with a zero-slope vertex); "
                                  "raise delta_target or use alpha > 0")
        c += (res.delta - target) / slope
    return c


def stabilize(a: Any, alpha: float, delta_target: float, *, tol: float = 1e-9, rtol: float = 5e-2,
              max_iter: int = 300, restarts: int = 4, seed: int = 0, certify: bool = False) -> StabilizationResult:
    """Minimal-Frobenius-norm ``Δ`` with ``max_{α≤D≤1} μ_2(D(A+Δ)) ≤ δ̄`` (seed 002, arXiv:2501.10740).

    Args:
        a: weight matrix ``A [d, d]`` (float64 internally, no gradient).
        alpha: activation slope lower bound ``α ∈ [0, 1]`` (``σ' ∈ [α, 1]``). For ``α = 0`` every ``δ`` is
            ``≥ 0`` (``D = 0`` is allowed), so ``delta_target`` must then be positive, and the final repair
            shift is unavailable (``certified`` may be False).
        delta_target: ``δ̄``, the wanted bound on the log-norm of the Jacobian (0 gives a non-expansive flow).
        tol: feasibility tolerance on ``δ``.
        rtol: stop when ``‖Δ‖_F ≤ (1 + rtol) ·`` the certified lower bound on the minimal norm.
        max_iter: cap on cutting-plane iterations.
        restarts, seed: random vertex starts of the oracle (``d > 10``), deterministic for a given seed.
        certify: for ``d > 12``, also shift by ``(delta_upper − δ̄)/α`` when the certified upper bound (not
            only the best vertex found) exceeds ``δ̄``, so that ``δ(A + Δ) ≤ δ̄`` is guaranteed; costs
            ``gap · √d / α`` in ``‖Δ‖_F``. For ``d ≤ 12`` the check is exact and the result always certified.

    Returns:
        :class:`StabilizationResult`; ``delta_matrix`` is returned in ``A``'s dtype if ``A`` is a tensor.
        Cost per iteration: about ``3 · 2 · restarts`` eigendecompositions of ``d×d`` plus a QP in the active
        cuts (``d = 64``: seconds in total; ``d = 256``: minutes).
    """
    m, alpha, target = _check_problem(a, alpha, delta_target)
    for value, name in ((tol, "tol"), (rtol, "rtol")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValidationError(f"{name} must be a positive float, got {value!r}")
    max_iter = check_positive_int(max_iter, "max_iter")
    restarts = check_positive_int(restarts, "restarts")
    out_dtype = a.dtype if isinstance(a, torch.Tensor) and a.is_floating_point() else torch.float64
    d = m.shape[0]
    eye = torch.eye(d, dtype=m.dtype)
    initial = _check(m, alpha, seed, certify=False)
    if initial.delta <= target + tol:  # possibly feasible already: decide with the certified upper bound
        initial = _check(m, alpha, seed)

    def result(delta_matrix: torch.Tensor, check: ContractivityResult, lower: float, it: int, cuts: int,
               converged: bool) -> StabilizationResult:
        return StabilizationResult(delta_matrix.to(out_dtype), (m + delta_matrix).to(out_dtype), check.delta,
                                   check.upper_bound, initial.delta, target,
                                   float(torch.linalg.norm(delta_matrix)), lower, it, cuts, converged,
                                   check.upper_bound <= target + tol)

    if initial.upper_bound <= target + tol:
        return result(torch.zeros_like(m), initial, 0.0, 0, 0, True)

    oracle = _Oracle(d, alpha, restarts, seed)
    xs = torch.zeros(0, d, dtype=m.dtype)
    dxs, mu = xs.clone(), torch.zeros(0, dtype=m.dtype)
    delta_k = torch.zeros_like(m)
    lower, converged, it = 0.0, False, 0
    # best candidate: an iterate Δ_k with the oracle's violation v, moved onto the feasible set by −(v/α) I
    best, best_norm = delta_k, math.inf

    while it < max_iter:
        it += 1
        diags, vals, vecs = oracle(m + delta_k)
        viol = float(vals[0, -1]) - target
        if viol <= tol or alpha > 0.0:
            cand = delta_k - max(viol, 0.0) / max(alpha, 1e-300) * eye
            if float(torch.linalg.norm(cand)) < best_norm:
                best, best_norm = cand, float(torch.linalg.norm(cand))
        if viol <= tol or best_norm <= (1.0 + rtol) * lower:
            if oracle.all is not None:
                converged = True
                break
            # about to stop: search the candidate thoroughly, the warm oracle may have missed a vertex
            found = _check(m + best, alpha, seed + it, oracle.warm, certify=False)
            if found.delta <= target + tol:
                converged = True
                break
            oracle.warm = torch.cat([found.d.unsqueeze(0), oracle.warm])
            best = best - (found.delta - target) / max(alpha, 1e-300) * eye
            best_norm = float(torch.linalg.norm(best)) if alpha > 0.0 else math.inf
            v1, e1 = _sym_eigh(m + delta_k, found.d.unsqueeze(0))
            diags, vals, vecs = torch.cat([found.d.unsqueeze(0), diags]), torch.cat([v1, vals]), torch.cat([e1, vecs])
            viol = max(viol, float(v1[0, -1]) - target)
        # cuts: eigenvectors of the violated vertices above δ̄ − viol (those about to become active too)
        # (at most d per iteration, the largest eigenvalues first, so the master QP stays small)
        sel = vals[:, -1] > target
        keep = vals[sel] > target - viol
        if int(keep.sum()) > d:
            keep &= vals[sel] >= torch.topk(vals[sel][keep], d).values[-1]
        new_x = vecs[sel].transpose(-1, -2)[keep]
        xs = torch.cat([xs, new_x])
        dxs = torch.cat([dxs, diags[sel].unsqueeze(1).expand(-1, d, -1)[keep] * new_x])
        mu = torch.cat([mu, torch.zeros(new_x.shape[0], dtype=m.dtype)])
        b = ((dxs @ m) * xs).sum(dim=-1) - target  # x_jᵀ D_j A x_j − δ̄
        mu = _master(xs, dxs, b, mu)
        gram_mu = (dxs.T * mu) @ xs
        lower = max(lower, math.sqrt(max(2.0 * (float(mu @ b) - 0.5 * float((gram_mu**2).sum())), 0.0)))
        active = mu > 0
        xs, dxs, mu = xs[active], dxs[active], mu[active]
        delta_k = -(dxs.T * mu) @ xs
    check = _check(m + best, alpha, seed + 1, oracle.warm if oracle.all is None else None)
    excess = (check.upper_bound if certify else check.delta) - target
    if excess > tol and alpha > 0.0:
        # δ(B − sI) ≤ δ(B) − sα: with the certified upper bound the shifted matrix is certified feasible
        best = best - excess / alpha * eye
        check = _check(m + best, alpha, seed + 2, check.d.unsqueeze(0))
        if certify:
            check = dataclasses.replace(check, upper_bound=min(check.upper_bound, target))
    return result(best, check, lower, it, int(xs.shape[0]), converged)
