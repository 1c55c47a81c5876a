"""Spectral diagnostics: abscissae, transient growth, Jacobian spectra along trajectories, stiffness index.

* spectral abscissa ``α(A) = max Re λ(A)`` (long-time rate) and numerical abscissa ``ω(A) = μ_2(A)``
  (initial rate of ``‖e^{tA}‖_2``); ``α ≤ ω``, and ``ω > 0 > α`` means transient growth (seed 003 §5.1,
  after Krovi 2023);
* ``transient_growth(A, t)``: ``max_t ‖e^{tA}‖_2`` on a time grid (exact ``matrix_exp``);
* ``jacobian_spectra(f, ts, ys)``: eigenvalues of ``∂f/∂y`` at every trajectory point (autograd);
* ``stiffness_index(J, t0, t1)``: ``S = κ_2(J)(t1 − t0)`` (seed 000 §4.2), plus the classical stiffness
  ratio ``max|Re λ| / min|Re λ|``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ..validation import as_float_array, real_number
from ._utils import MAX_ENTRY, as_square, lapack
from .lognorm import log_norm


def spectral_abscissa(a: Any) -> torch.Tensor:
    """``max Re λ(A)`` for ``A [..., d, d]`` → ``[...]`` (float64)."""
    return lapack(torch.linalg.eigvals, as_square(a, batched=True), "A").real.max(dim=-1).values


def numerical_abscissa(a: Any) -> torch.Tensor:
    """``ω(A) = μ_2(A) = λ_max((A + Aᵀ)/2) = d/dt ‖e^{tA}‖_2 at t = 0+`` for ``A [..., d, d]`` → ``[...]``."""
    return log_norm(a, 2)


@dataclasses.dataclass(frozen=True)
class TransientGrowth:
    """``‖e^{tA}‖_2`` on a grid: ``norms [T]`` at ``t [T]``, its maximum ``peak`` reached at ``t_peak``."""

    t: torch.Tensor
    norms: torch.Tensor
    peak: float
    t_peak: float


def transient_growth(a: Any, t: Any) -> TransientGrowth:
    """``max_{t ∈ grid} ‖e^{tA}‖_2`` with the whole curve (seed 003 §5.1; Krovi 2023's growth measure).

    Args:
        a: ``A [d, d]``.
        t: time grid ``[T]`` (≥ 0, same time units as ``A``'s rates).
    """
    m = as_square(a)
    tt = torch.as_tensor(as_float_array(t, "t", ndim=1))
    if tt.numel() == 0 or (tt < 0).any():
        raise ValidationError(f"t must be a non-empty 1-D grid of finite times >= 0, got {tt.tolist()[:5]}")
    norms = torch.full_like(tt, math.inf)  # where e^{tA} overflows float64 the growth is reported as inf
    scaled = tt[:, None, None] * m
    ok = torch.isfinite(scaled).all(dim=(-1, -2)) & (scaled.abs().amax(dim=(-1, -2)) <= MAX_ENTRY)
    if bool(ok.any()):
        expo = torch.linalg.matrix_exp(scaled[ok])
        fin = torch.isfinite(expo).all(dim=(-1, -2)) & (expo.abs().amax(dim=(-1, -2)) <= MAX_ENTRY)
        sub = torch.full((int(ok.sum()),), math.inf, dtype=torch.float64)
        if bool(fin.any()):
            sub[fin] = lapack(lambda x: torch.linalg.matrix_norm(x, ord=2), expo[fin], "A")
        norms[ok] = sub
    k = int(torch.argmax(norms))
    return TransientGrowth(tt, norms, float(norms[k]), float(tt[k]))


def jacobian_spectra(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ts: Any,
                     ys: Any) -> torch.Tensor:
    """Eigenvalues of ``∂f/∂y`` along trajectories.

    Args:
        f: vector field ``f(t [N], y [N, D]) -> [N, D]`` (batch-first, as for :func:`pysciml.odeint`).
        ts: times ``[T]`` or ``[B, T]``.
        ys: states ``[B, T, D]``, finite (drop failed trajectories, ``status != 0``, first).

    Returns:
        complex eigenvalues ``[B, T, D]`` (unsorted, as ``torch.linalg.eigvals`` returns them). Where ``f``'s
        Jacobian itself is not finite (or has entries beyond 2^500) the eigenvalues are ``nan`` — such points
        never reach LAPACK, whose eigen solver can crash or hang on NaN/Inf.
    """
    jac = trajectory_jacobians(f, ts, ys).to(torch.float64)
    ok = torch.isfinite(jac).all(dim=(-1, -2)) & (jac.abs().amax(dim=(-1, -2)) <= MAX_ENTRY)
    eig = torch.full(jac.shape[:-1], complex(math.nan, math.nan), dtype=torch.complex128)
    if bool(ok.any()):
        eig[ok] = lapack(torch.linalg.eigvals, jac[ok], "the Jacobian of f")
    return eig if ys.dtype == torch.float64 else eig.to(torch.complex64)


def trajectory_jacobians(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ts: Any,
                         ys: Any) -> torch.Tensor:
    """``∂f/∂y`` at every point of ``ys [B, T, D]`` (times ``ts [T]`` or ``[B, T]``) → ``[B, T, D, D]``.

    One forward pass over all ``B·T`` points and ``D`` vector-Jacobian products (no graph is kept). ``ys`` must
    be finite float32/float64; ``f`` must return ``[B·T, D]``.
    """
    if not callable(f):
        raise InputTypeError(f"f must be a callable f(t [N], y [N, D]) -> [N, D], got {type(f).__name__}")
    if not isinstance(ys, torch.Tensor):
        raise InputTypeError(f"ys must be a torch tensor [B, T, D], got {type(ys).__name__}")
    if ys.dtype not in (torch.float32, torch.float64):
        raise InputTypeError(f"ys must be float32 or float64, got {ys.dtype}; convert with .double()")
    if ys.ndim != 3 or ys.shape[-1] == 0:
        raise ValidationError(f"ys must have shape [B, T, D] with D >= 1, got {tuple(ys.shape)}")
    b, n_t, dim = ys.shape
    bad = ~torch.isfinite(ys)
    if bool(bad.any()):
        i, j, _ = (int(v) for v in bad.nonzero()[0])
        raise ValidationError(f"ys is not finite at ys[{i}, {j}] ({int(bad.sum())} entries); drop failed "
                              "trajectories (status != 0) before computing their Jacobians")
    tt = torch.as_tensor(as_float_array(ts, "ts", ndim=(1, 2)), dtype=ys.dtype)
    if tt.shape not in ((n_t,), (b, n_t)):
        raise ValidationError(f"ts must have shape [T]={n_t} or [B, T]=({b}, {n_t}), got {tuple(tt.shape)}")
    if b * n_t == 0:
        return ys.new_zeros(b, n_t, dim, dim)
    tt = tt.expand(b, n_t).reshape(-1)
    y = ys.detach().reshape(-1, dim).clone().requires_grad_(True)
    with torch.enable_grad():
        out = f(tt, y)
        if not isinstance(out, torch.Tensor) or out.shape != y.shape or not out.is_floating_point():
            got = f"{out.dtype} {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValidationError(f"f must return a real tensor [N, D] = {tuple(y.shape)} for y [N, D], got {got}")
        if not out.requires_grad:  # f does not depend on y
            return ys.new_zeros(b, n_t, dim, dim)
        eye = torch.eye(dim, dtype=out.dtype).unsqueeze(1).expand(dim, y.shape[0], dim)
        (rows,) = torch.autograd.grad(out, y, eye, is_grads_batched=True, allow_unused=True)
    if rows is None:
        return ys.new_zeros(b, n_t, dim, dim)
    return rows.permute(1, 0, 2).reshape(b, n_t, dim, dim).detach()


@dataclasses.dataclass(frozen=True)
class StiffnessIndex:
    """Stiffness measures of Jacobians ``J [...]``: ``index = κ_2(J)(t1 − t0)`` (seed 000 §4.2),
    ``condition = κ_2(J)`` and ``ratio = max|Re λ| / min|Re λ|`` (classical stiffness ratio)."""

    index: torch.Tensor
    condition: torch.Tensor
    ratio: torch.Tensor


def stiffness_index(jac: Any, t0: float, t1: float) -> StiffnessIndex:
    """Stiffness index ``S = κ_2(J)(t1 − t0)`` of Josias & Brink (seed 000 §4.2) for ``J [..., D, D]``.

    ``κ_2`` is the 2-norm condition number (``inf`` for a singular ``J``, e.g. ``J = 0``); the ratio is ``inf``
    when an eigenvalue has zero real part; ``t1 > t0`` (finite) is the horizon.
    """
    m = as_square(jac, "jac", batched=True)
    t0, t1 = real_number(t0, "t0"), real_number(t1, "t1")
    if not t1 > t0:
        raise ValidationError(f"t1 must be greater than t0, got t0={t0!r}, t1={t1!r}")
    sv = lapack(torch.linalg.svdvals, m, "jac")
    re = lapack(torch.linalg.eigvals, m, "jac").real.abs()
    inf = torch.tensor(math.inf, dtype=torch.float64)
    cond = torch.where(sv[..., -1] > 0, sv[..., 0] / sv[..., -1], inf)  # singular (incl. J = 0): κ = inf
    re_min, re_max = re.min(dim=-1).values, re.max(dim=-1).values
    ratio = torch.where(re_min > 0, re_max / re_min, inf)  # a zero real part: the ratio is inf
    return StiffnessIndex(cond * (t1 - t0), cond, ratio)
