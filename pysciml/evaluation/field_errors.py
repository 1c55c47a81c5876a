"""Offline error ``ε_θ = F_θ − F`` and Jacobian error ``J_e = J_F − J_{F_θ}`` on test points.

Janvier, Salomon, Meunier, "Jacobian Regularization Stabilizes Long-Term Integration of Neural Differential
Equations" (arXiv:2602.04608), §4 and App. B.3: both are evaluated on the ground-truth test points ``x``.

* offline error, per point ``e(x) = ‖F_θ(x) − F(x)‖₂²``; reported as its mean over the points
  (``eps_mean_sq``), the mean of ``‖·‖₂``, and ``sup_x ‖F_θ(x) − F(x)‖₂`` (the ``‖ε_θ‖_∞`` of the Grönwall
  bound, their eq. 3);
* Jacobian error, per point ``j(x) = ‖J_F(x) − J_{F_θ}(x)‖_F²``; ``estimator="exact"`` forms both Jacobians
  (the system's analytic ``jacobian`` and ``d`` forward-mode JVPs of the model; also reports the spectral norm
  ``‖J_F − J_{F_θ}‖₂``), ``estimator="hutchinson"`` uses ``V`` Gaussian probes (their eq. 5, ``V = 4`` for KS):
  ``j(x) ≈ (1/V) Σ_i ‖J_F(x) v_i − J_{F_θ}(x) v_i‖₂²`` with the system's ``jvp_torch`` (closed form where the
  system has one, e.g. Kuramoto–Sivashinsky) and a forward-mode JVP of the model. The Hutchinson result carries
  its standard error given the points: ``SE = sqrt(Σ_x s_x² / V) / P`` with ``s_x²`` the sample variance over
  the ``V`` probes at point ``x`` and ``P`` points.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from ..regularizers.jacobian import exact_jacobian, jvp
from ..systems import System
from ..validation import check_choice, check_positive_int

__all__ = ["OfflineError", "JacobianError", "offline_error", "jacobian_error", "evaluation_points"]


@dataclasses.dataclass(frozen=True)
class OfflineError:
    """``eps_mean_sq = mean ‖ε_θ‖₂²``, ``eps_mean = mean ‖ε_θ‖₂``, ``eps_sup = max ‖ε_θ‖₂`` over ``n_points``."""

    eps_mean_sq: float
    eps_mean: float
    eps_sup: float
    n_points: int


@dataclasses.dataclass(frozen=True)
class JacobianError:
    """``mean_sq_fro = mean ‖J_F − J_{F_θ}‖_F²`` (``std_error`` > 0 for Hutchinson, 0 when exact),
    ``mean_spectral = mean ‖J_F − J_{F_θ}‖₂`` (exact only, else NaN), the estimator and probe count."""

    mean_sq_fro: float
    std_error: float
    mean_spectral: float
    estimator: str
    n_probes: int
    n_points: int


def evaluation_points(ys: Any, max_points: int | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """All finite states of ``ys [..., d]`` as ``[P, d]``, evenly strided down to ``max_points`` (``None``: all)."""
    x = torch.as_tensor(np.asarray(ys), dtype=dtype)
    if x.ndim < 2:
        raise ValidationError(f"ys must have shape [..., dim], got {tuple(x.shape)}")
    x = x.reshape(-1, x.shape[-1])
    x = x[torch.isfinite(x).all(dim=1)]
    if x.shape[0] == 0:
        raise ValidationError("ys holds no finite state to evaluate the field at")
    if max_points is not None and x.shape[0] > check_positive_int(max_points, "max_points"):
        x = x[torch.linspace(0, x.shape[0] - 1, max_points).round().long()]
    return x


def _check(system: System, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != system.dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValidationError(f"points must be a tensor [P, {system.dim}] for system {system.name!r}, got {shape}")
    return x


def _batches(x: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [x[i:i + size] for i in range(0, x.shape[0], size)]


def offline_error(field: Any, system: System, x: torch.Tensor, t: float = 0.0, batch_size: int = 4096) -> OfflineError:
    """``ε_θ(x) = F_θ(t, x) − F(t, x)`` at the points ``x [P, d]``; ``field`` is ``F_θ(t [B], y [B, d])``.

    Evaluated in the points' dtype, without gradients.
    """
    x = _check(system, x)
    norms = []
    with torch.no_grad():
        for xb in _batches(x, batch_size):
            tt = torch.full((xb.shape[0],), float(t), dtype=xb.dtype)
            diff = field(tt, xb).to(torch.float64) - system.rhs_torch(tt, xb.to(torch.float64))
            norms.append(torch.linalg.vector_norm(diff, dim=1))
    e = torch.cat(norms)
    return OfflineError(float((e * e).mean()), float(e.mean()), float(e.max()), int(e.numel()))


def jacobian_error(field: Any, system: System, x: torch.Tensor, estimator: str = "auto", n_probes: int = 4,
                   t: float = 0.0, seed: int = 0, batch_size: int = 1024, exact_max_dim: int = 64) -> JacobianError:
    """``J_e = J_F − J_{F_θ}`` at the points ``x [P, d]`` (seed 001 App. B.3).

    Args:
        field: the model's vector field ``F_θ(t, y)`` (must support forward-mode autodiff).
        system: the true system ``F`` (analytic ``jacobian`` for the exact estimator, ``jvp_torch`` for Hutchinson).
        estimator: ``"exact"``, ``"hutchinson"`` or ``"auto"`` (exact for ``d <= exact_max_dim``).
        n_probes: ``V``, Gaussian probes per point for Hutchinson (``>= 2`` so that its standard error exists).
        seed: seed of the probes (deterministic).
    """
    x = _check(system, x)
    estimator = check_choice(estimator, "estimator", ("auto", "exact", "hutchinson"))
    if estimator == "auto":
        estimator = "exact" if system.dim <= exact_max_dim else "hutchinson"
    if estimator == "hutchinson":
        return _hutchinson(field, system, x, check_positive_int(n_probes, "n_probes", minimum=2), t, seed,
                           batch_size)
    fro, spec = [], []
    for xb in _batches(x, batch_size):
        tt = torch.full((xb.shape[0],), float(t), dtype=xb.dtype)
        j_true = torch.as_tensor(system.jacobian(float(t), xb.detach().to(torch.float64).numpy()))
        j_model = exact_jacobian(field, xb.detach(), tt).detach().to(torch.float64)
        diff = j_true - j_model
        fro.append(diff.pow(2).sum(dim=(1, 2)))
        spec.append(torch.linalg.matrix_norm(diff, ord=2))
    f, s = torch.cat(fro), torch.cat(spec)
    return JacobianError(float(f.mean()), 0.0, float(s.mean()), "exact", 0, int(f.numel()))


def _hutchinson(field: Any, system: System, x: torch.Tensor, n_probes: int, t: float, seed: int,
                batch_size: int) -> JacobianError:
    gen = torch.Generator().manual_seed(seed)
    means, variances = [], []
    for xb in _batches(x, batch_size):
        xb = xb.detach()
        v = torch.randn((n_probes, *xb.shape), dtype=xb.dtype, generator=gen)
        tt = torch.full((xb.shape[0],), float(t), dtype=xb.dtype)
        model_jv = jvp(field, xb, v, tt).detach().to(torch.float64)
        with torch.no_grad():
            x64, v64 = xb.to(torch.float64), v.to(torch.float64)
            true_jv = system.jvp_torch(float(t), x64.repeat(n_probes, 1), v64.reshape(-1, xb.shape[1]))
        samples = (true_jv.reshape(v.shape) - model_jv).pow(2).sum(dim=-1)  # [V, B]
        means.append(samples.mean(dim=0))
        variances.append(samples.var(dim=0))
    m, var = torch.cat(means), torch.cat(variances)
    p = m.numel()
    return JacobianError(float(m.mean()), math.sqrt(float(var.sum()) / n_probes) / p, math.nan, "hutchinson",
                         n_probes, p)
