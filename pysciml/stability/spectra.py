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
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ._utils import as_square
from .lognorm import log_norm


def spectral_abscissa(a: Any) -> torch.Tensor:
    """``max Re λ(A)`` for ``A [..., d, d]`` → ``[...]`` (float64)."""
    return torch.linalg.eigvals(as_square(a, batched=True)).real.max(dim=-1).values


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
    tt = torch.as_tensor(t, dtype=torch.float64).detach()
    if tt.ndim != 1 or tt.numel() == 0 or not torch.isfinite(tt).all() or (tt < 0).any():
        raise ValidationError(f"t must be a non-empty 1-D grid of finite times >= 0, got shape "
                              f"{tuple(tt.shape)}")
    norms = torch.linalg.matrix_norm(torch.linalg.matrix_exp(tt[:, None, None] * m), ord=2)
    k = int(torch.argmax(norms))
    return TransientGrowth(tt, norms, float(norms[k]), float(tt[k]))


def jacobian_spectra(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ts: Any,
                     ys: Any) -> torch.Tensor:
    """Eigenvalues of ``∂f/∂y`` along trajectories.

    Args:
        f: vector field ``f(t [N], y [N, D]) -> [N, D]`` (batch-first, as for :func:`pysciml.odeint`).
        ts: times ``[T]`` or ``[B, T]``.
        ys: states ``[B, T, D]``.

    Returns:
        complex eigenvalues ``[B, T, D]`` (unsorted, as ``torch.linalg.eigvals`` returns them).
    """
    jac = trajectory_jacobians(f, ts, ys)
    return torch.linalg.eigvals(jac)


def trajectory_jacobians(f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ts: Any,
                         ys: Any) -> torch.Tensor:
    """``∂f/∂y`` at every point of ``ys [B, T, D]`` (times ``ts [T]`` or ``[B, T]``) → ``[B, T, D, D]``.

    One forward pass over all ``B·T`` points and ``D`` vector-Jacobian products (no graph is kept).
    """
    if not isinstance(ys, torch.Tensor):
        raise InputTypeError(f"ys must be a torch tensor [B, T, D], got {type(ys).__name__}")
    if ys.ndim != 3:
        raise ValidationError(f"ys must have shape [B, T, D], got {tuple(ys.shape)}")
    b, n_t, dim = ys.shape
    tt = torch.as_tensor(ts, dtype=ys.dtype)
    if tt.shape not in ((n_t,), (b, n_t)):
        raise ValidationError(f"ts must have shape [T]={n_t} or [B, T]=({b}, {n_t}), got {tuple(tt.shape)}")
    tt = tt.expand(b, n_t).reshape(-1)
    y = ys.detach().reshape(-1, dim).clone().requires_grad_(True)
    with torch.enable_grad():
        out = f(tt, y)
        eye = torch.eye(dim, dtype=ys.dtype).unsqueeze(1).expand(dim, y.shape[0], dim)
        (rows,) = torch.autograd.grad(out, y, eye, is_grads_batched=True)
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

    ``κ_2`` is the 2-norm condition number (``inf`` for a singular ``J``); ``t1 > t0`` is the horizon.
    """
    m = as_square(jac, "jac", batched=True)
    if not float(t1) > float(t0):
        raise ValidationError(f"t1 must be greater than t0, got t0={t0!r}, t1={t1!r}")
    sv = torch.linalg.svdvals(m)
    cond = sv[..., 0] / sv[..., -1]
    re = torch.linalg.eigvals(m).real.abs()
    ratio = re.max(dim=-1).values / re.min(dim=-1).values
    return StiffnessIndex(cond * (float(t1) - float(t0)), cond, ratio)
