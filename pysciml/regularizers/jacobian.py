"""Jacobian quantities of a vector field at a batch of points, differentiable for training.

Every function takes a map ``f`` and points ``x`` of shape ``[B, d]`` and returns one value per point.
``f`` is called as ``f(x)`` (``[B, d] -> [B, d]``), or as ``f(t, x)`` when a time ``t`` is given
(a scalar or a ``[B]`` tensor, broadcast to ``[B]`` in ``x``'s dtype — the ``pysciml.odeint`` vector-field
convention). ``f`` must act row-wise (no coupling between batch rows, e.g. no batch normalisation): the
functions stack several tangent directions along the batch axis and call ``f`` once on ``[V * B, d]``.

Products are computed with forward mode (:func:`torch.func.jvp`, ``J v``) or reverse mode
(:func:`torch.autograd.grad` with ``create_graph``, ``uᵀ J``); both keep the graph to ``f``'s parameters,
so every returned quantity can be trained through.

References: Hutchinson (1989) trace estimator; Finlay et al. (2020, RNODE) Frobenius term; Josias & Brink
(2022, seed 000) eq. (5) ``‖J‖_F``, ``‖J‖_2 = σ_max``, ``κ(J) = σ_max/σ_min``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import InputTypeError, ValidationError
from ..validation import check_choice, check_positive_int

__all__ = [
    "exact_jacobian",
    "jvp",
    "vjp",
    "jacobian_directional",
    "jacobian_frobenius",
    "jacobian_spectral",
    "smallest_singular_value",
    "jacobian_condition",
    "random_directions",
]

Field = Callable[..., torch.Tensor]
_MODES = ("jvp", "vjp")
_DISTRIBUTIONS = ("gaussian", "rademacher")


def _check_points(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputTypeError(f"x must be a torch.Tensor of shape [batch, dim], got {type(x).__name__}")
    if x.ndim != 2:
        raise ValidationError(f"x must have shape [batch, dim], got {tuple(x.shape)}; "
                              f"flatten extra axes first")
    if x.dtype not in (torch.float32, torch.float64):
        raise InputTypeError(f"x must be a float32 or float64 tensor, got dtype {x.dtype}")
    if x.shape[-1] == 0:
        raise ValidationError(f"x must have dim >= 1, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValidationError("x contains NaN or Inf; regularisers need finite points")
    return x


def _finite(jac: torch.Tensor) -> torch.Tensor:
    """``jac`` if finite; LAPACK (SVD, LU) must never see NaN/Inf (it fails or, with some builds, crashes)."""
    if not bool(torch.isfinite(jac).all()):
        raise ValidationError("the Jacobian of f at x is not finite (NaN/Inf): f overflows there; check x and f")
    return jac


def as_times(t: object, x: torch.Tensor, name: str = "t") -> torch.Tensor:
    """``t`` (a number, array or tensor) as a real tensor in ``x``'s dtype and device, finite."""
    if isinstance(t, torch.Tensor) and (t.is_complex() or t.dtype == torch.bool):
        raise InputTypeError(f"{name} must be real, got dtype {t.dtype}")
    try:
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(f"{name} must be a number or a real tensor of times, got {type(t).__name__}") from exc
    if not bool(torch.isfinite(tt).all()):
        raise ValidationError(f"{name} contains NaN or Inf; pass finite times")
    return tt


def _bind(f: Field, x: torch.Tensor, t: torch.Tensor | float | None, repeats: int) -> Field:
    """Return ``g(z)`` for ``z`` of shape ``[repeats * B, d]`` calling ``f(z)`` or ``f(t_rep, z)``."""
    if t is None:
        return f
    tt = as_times(t, x)
    if tt.ndim == 0:
        tt = tt.expand(x.shape[0])
    if tt.shape != (x.shape[0],):
        raise ValidationError(f"t must be a scalar or a [batch] tensor with batch={x.shape[0]}, "
                              f"got shape {tuple(tt.shape)}")
    t_rep = tt.repeat(repeats)
    return lambda z: f(t_rep, z)


def _directions(v: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(v, torch.Tensor) or not v.is_floating_point():
        got = v.dtype if isinstance(v, torch.Tensor) else type(v).__name__
        raise InputTypeError(f"{name} must be a real floating-point tensor shaped like x, got {got}")
    vv = v.unsqueeze(0) if v.ndim == 2 else v
    if vv.ndim != 3 or vv.shape[1:] != x.shape:
        raise ValidationError(f"{name} must have shape {tuple(x.shape)} or [V, *{tuple(x.shape)}], "
                              f"got {tuple(v.shape)}")
    return vv.to(x.dtype)


def _over_directions(product: Callable[[torch.Tensor], torch.Tensor], vv: torch.Tensor,
                     repeated: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Apply ``product`` to each of the ``V`` directions ``vv [V, B, d]`` with :func:`torch.func.vmap`
    (the primal evaluation of ``f`` is shared); fall back to ``repeated()`` (``f`` on ``[V * B, d]``)
    when ``f`` uses an operation that ``vmap`` cannot batch."""
    if vv.shape[0] == 1:
        return product(vv[0]).unsqueeze(0)
    try:
        return torch.func.vmap(product)(vv)
    except (RuntimeError, NotImplementedError, ValueError):
        return repeated()


def jvp(f: Field, x: torch.Tensor, v: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
    """Jacobian-vector products ``J(x_b) v_{k,b}`` for ``V`` directions at once (forward mode).

    ``x``: ``[B, d]``; ``v``: ``[B, d]`` or ``[V, B, d]``; returns the same shape as ``v``.
    Cost: one forward-mode evaluation of ``f`` on ``[B, d]`` with ``V`` tangents (vmapped); if ``f`` cannot be
    vmapped, one forward-mode evaluation on ``[V * B, d]``.
    """
    x = _check_points(x)
    vv = _directions(v, x, "v")
    g = _bind(f, x, t, 1)

    def repeated() -> torch.Tensor:
        g_rep = _bind(f, x, t, vv.shape[0])
        return torch.func.jvp(g_rep, (x.repeat(vv.shape[0], 1),), (vv.reshape(-1, x.shape[1]),))[1].reshape(
            vv.shape)

    out = _over_directions(lambda tan: torch.func.jvp(g, (x,), (tan,))[1], vv, repeated)
    return out[0] if v.ndim == 2 else out


def vjp(f: Field, x: torch.Tensor, u: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
    """Vector-Jacobian products ``u_{k,b}ᵀ J(x_b)`` for ``V`` directions at once (reverse mode).

    ``x``: ``[B, d]``; ``u``: ``[B, d]`` or ``[V, B, d]``; returns the same shape as ``u``. The graph to
    ``f``'s parameters (and to ``x``) is kept, so the result is differentiable.
    Cost: one evaluation of ``f`` on ``[B, d]`` plus ``V`` vmapped backward passes (or, if ``f`` cannot be
    vmapped, one evaluation on ``[V * B, d]`` and one backward pass).
    """
    x = _check_points(x)
    uu = _directions(u, x, "u")
    g = _bind(f, x, t, 1)
    _, pullback = torch.func.vjp(g, x)

    def repeated() -> torch.Tensor:
        g_rep = _bind(f, x, t, uu.shape[0])
        _, pull_rep = torch.func.vjp(g_rep, x.repeat(uu.shape[0], 1))
        return pull_rep(uu.reshape(-1, x.shape[1]))[0].reshape(uu.shape)

    out = _over_directions(lambda cot: pullback(cot)[0], uu, repeated)
    return out[0] if u.ndim == 2 else out


def _product(mode: str) -> Callable[..., torch.Tensor]:
    return jvp if check_choice(mode, "mode", _MODES) == "jvp" else vjp


def random_directions(shape: tuple[int, ...], distribution: str = "gaussian", *, dtype: torch.dtype,
                      device: torch.device | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Random probe vectors with ``E[v vᵀ] = I``: standard normal or Rademacher (±1), shape ``shape``."""
    distribution = check_choice(distribution, "distribution", _DISTRIBUTIONS)
    if distribution == "gaussian":
        return torch.randn(shape, dtype=dtype, device=device, generator=generator)
    signs = torch.randint(0, 2, shape, device=device, generator=generator)
    return (2 * signs - 1).to(dtype)


def exact_jacobian(f: Field, x: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
    """Exact Jacobian ``J[b, i, j] = ∂f_i/∂x_j (x_b)``, shape ``[B, d, d]`` (differentiable).

    Cost: ``d`` JVPs (one forward-mode call of ``f`` on ``[d * B, d]``); use only for small ``d``.
    """
    x = _check_points(x)
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    basis = eye[:, None, :].expand(d, x.shape[0], d)
    cols = jvp(f, x, basis, t)  # [d(j), B, d(i)] = J e_j
    return cols.permute(1, 2, 0)


def jacobian_directional(f: Field, x: torch.Tensor, v: torch.Tensor,
                         t: torch.Tensor | float | None = None) -> torch.Tensor:
    """Squared directional derivative ``‖J(x_b) v_b‖²`` per point, shape ``[B]`` (one JVP).

    With ``f = F_θ − F`` and ``v = F(x)/‖F(x)‖`` this is the ``dt → 0`` limit of the ``L_FD`` summand of
    Janvier et al. (2026) (methods.md §9.1).
    """
    return jvp(f, x, v, t).pow(2).sum(-1)


def jacobian_frobenius(f: Field, x: torch.Tensor, estimator: str = "exact", n_samples: int = 1,
                       distribution: str = "gaussian", mode: str = "jvp", *,
                       t: torch.Tensor | float | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Squared Frobenius norm ``‖J(x_b)‖_F²`` per point, shape ``[B]``.

    ``estimator="exact"`` sums the squares of :func:`exact_jacobian` (``d`` JVPs). ``"hutchinson"`` averages
    ``‖J v‖²`` (``mode="jvp"``) or ``‖vᵀ J‖²`` (``mode="vjp"``) over ``n_samples`` probes with ``E[v vᵀ] = I``
    (Gaussian or Rademacher) — an unbiased estimate (Hutchinson 1989; RNODE, Finlay et al. 2020);
    cost ``n_samples`` JVPs or VJPs. Probes come from ``generator`` or the global torch RNG.
    """
    x = _check_points(x)
    estimator = check_choice(estimator, "estimator", ("exact", "hutchinson"))
    if estimator == "exact":
        return exact_jacobian(f, x, t).pow(2).sum((-2, -1))
    n_samples = check_positive_int(n_samples, "n_samples")
    v = random_directions((n_samples, *x.shape), distribution, dtype=x.dtype, device=x.device,
                          generator=generator)
    return _product(mode)(f, x, v, t).pow(2).sum(-1).mean(0)


def _normalise(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)


def jacobian_spectral(f: Field, x: torch.Tensor, iters: int = 50, mode: str = "jvp", *,
                      t: torch.Tensor | float | None = None, tol: float = 1e-12,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Spectral norm ``σ_max(J(x_b)) = ‖J‖_2`` per point by power iteration on ``JᵀJ``, shape ``[B]``.

    Each of at most ``iters`` iterations costs one JVP and one VJP and runs without a graph; it stops early
    once every point's estimate changes by less than ``tol`` (relative). The returned value is recomputed
    with the graph as ``‖J v‖`` (``mode="jvp"``, one JVP) or ``‖uᵀ J‖`` (``mode="vjp"``, one VJP) at the
    converged singular vectors, whose gradient is the exact gradient ``uᵀ dJ v`` of ``σ_max``.
    """
    x = _check_points(x)
    iters = check_positive_int(iters, "iters")
    mode = check_choice(mode, "mode", _MODES)
    xd = x.detach()
    v = _normalise(random_directions(tuple(x.shape), dtype=x.dtype, device=x.device, generator=generator))
    sigma = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for _ in range(iters):
            jv = jvp(f, xd, v, t)
            new_sigma = jv.norm(dim=-1)
            u = _normalise(jv)
            v = _normalise(vjp(f, xd, u, t))
            done = bool(torch.all((new_sigma - sigma).abs() <= tol * new_sigma.clamp_min(1e-300)))
            sigma = new_sigma
            if done:
                break
        u = _normalise(jvp(f, xd, v, t))
    if mode == "jvp":
        return jvp(f, x, v, t).norm(dim=-1)
    return vjp(f, x, u, t).norm(dim=-1)


def smallest_singular_value(f: Field, x: torch.Tensor, method: str = "auto", iters: int = 50, *,
                            t: torch.Tensor | float | None = None, exact_max_dim: int = 64,
                            tol: float = 1e-12, generator: torch.Generator | None = None) -> torch.Tensor:
    """Smallest singular value ``σ_min(J(x_b))`` per point, shape ``[B]`` (differentiable).

    ``method="exact"``: ``torch.linalg.svdvals`` of :func:`exact_jacobian` (``d`` JVPs plus an SVD).
    ``method="iterative"``: inverse power iteration on ``(JᵀJ)⁻¹`` — the exact Jacobian (``d`` JVPs) is
    LU-factorised once per point and each iteration does two batched triangular solves
    (``J⁻ᵀ`` then ``J⁻¹``), so the cost is ``d`` JVPs + one LU (``O(d³)``) + ``O(iters · d²)``; the
    returned value is ``‖J v‖`` at the converged right singular vector (one JVP with graph). A singular
    Jacobian gives 0. ``method="auto"`` picks exact for ``d <= exact_max_dim``.
    """
    x = _check_points(x)
    method = check_choice(method, "method", ("auto", "exact", "iterative"))
    if method == "auto":
        method = "exact" if x.shape[1] <= exact_max_dim else "iterative"
    if method == "exact":
        return torch.linalg.svdvals(_finite(exact_jacobian(f, x, t)))[:, -1]
    iters = check_positive_int(iters, "iters")
    with torch.no_grad():
        jac = _finite(exact_jacobian(f, x.detach(), t))
        lu, piv, info = torch.linalg.lu_factor_ex(jac)
        v = _normalise(random_directions(tuple(x.shape), dtype=x.dtype, device=x.device, generator=generator))
        inv_sigma = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for _ in range(iters):
            w = torch.linalg.lu_solve(lu, piv, v.unsqueeze(-1), adjoint=True)  # J⁻ᵀ v
            w = torch.linalg.lu_solve(lu, piv, w).squeeze(-1)  # J⁻¹ J⁻ᵀ v = (JᵀJ)⁻¹ v
            new = w.norm(dim=-1)  # → 1/σ_min²
            ok = torch.isfinite(new)
            v = torch.where(ok[:, None], _normalise(w), v)
            done = bool(torch.all(((new - inv_sigma).abs() <= tol * new) | ~ok))
            inv_sigma = new
            if done:
                break
    sigma = jvp(f, x, v, t).norm(dim=-1)
    singular = (info != 0) | ~torch.isfinite(inv_sigma)
    return torch.where(singular, torch.zeros_like(sigma), sigma)


def jacobian_condition(f: Field, x: torch.Tensor, method: str = "auto", iters: int = 50, *,
                       t: torch.Tensor | float | None = None, eps: float = 0.0, exact_max_dim: int = 64,
                       mode: str = "jvp", generator: torch.Generator | None = None) -> torch.Tensor:
    """Condition number ``κ(J(x_b)) = σ_max / (σ_min + eps)`` per point, shape ``[B]`` (seed 000 eq. 5).

    ``method="exact"`` (default for ``d <= exact_max_dim``): both singular values from one
    ``torch.linalg.svdvals`` of the exact Jacobian. ``method="iterative"``: σ_max by
    :func:`jacobian_spectral` (power iteration, ``iters`` JVP+VJP pairs) and σ_min by
    :func:`smallest_singular_value` (inverse power iteration with the LU-factorised exact Jacobian).
    ``eps`` guards the denominator (seed 000 adds 1e-6).
    """
    x = _check_points(x)
    method = check_choice(method, "method", ("auto", "exact", "iterative"))
    if method == "auto":
        method = "exact" if x.shape[1] <= exact_max_dim else "iterative"
    if method == "exact":
        s = torch.linalg.svdvals(_finite(exact_jacobian(f, x, t)))
        return s[:, 0] / (s[:, -1] + eps)
    s_max = jacobian_spectral(f, x, iters, mode, t=t, generator=generator)
    s_min = smallest_singular_value(f, x, "iterative", iters, t=t, generator=generator)
    return s_max / (s_min + eps)
