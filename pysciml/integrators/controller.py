"""Step-size control: the PI controller and Hairer's initial step selection (per sample, vectorised).

Error norm (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4, eq. (4.11)): for each sample
``‖err‖ = sqrt(mean_i (err_i / (atol_i + rtol_i max(|y0_i|, |y1_i|)))²)``; a step is accepted when it is ≤ 1.

PI controller (Gustafsson 1991; Hairer & Wanner, *Solving ODEs II*, §IV.2, eq. (2.43c); coefficients as in
diffrax's ``PIDController``): with ``k = min(order, error_order) + 1``,
``factor = safety · ‖err_n‖^{-(pcoeff + icoeff)/k} · ‖err_{n-1}‖^{pcoeff/k}``, clipped to
``[min_factor, max_factor]`` (and ≤ 1 after a rejection); right after a sample's first accepted step the upper
clip is ``first_max_factor`` instead (SUNDIALS' first-step growth limit). ``pcoeff=0, icoeff=1`` is the
classical I controller (torchdiffeq's), ``pcoeff=0.4, icoeff=0.3`` the recommended PI controller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

# error norms are floored here before the negative power: small enough that the clip, not this floor, bounds
# the growth (1e-30 ** (-1/k) > 1e4 for every k <= 7), large enough to be a normal float32 number
_TINY = 1e-30


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-sample root-mean-square over the state dims: ``[B, *S] -> [B]``.

    Computed as ``‖x‖₂ / √n`` with one ``vector_norm`` (several times cheaper than square, mean and square root
    for short state dims, where the per-row reduction dominates).
    """
    flat = x.reshape(x.shape[0], -1)
    return torch.linalg.vector_norm(flat, dim=1).mul_(flat.shape[1] ** -0.5)


def error_ratio(error: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor, rtol: Any, atol: Any,
                norm: Callable[[torch.Tensor], torch.Tensor] = rms_norm) -> torch.Tensor:
    """Scaled error norm ``[B]`` (HNW I eq. (4.11)); NaN/Inf errors give ``inf``."""
    scale = atol + rtol * torch.maximum(y0.abs(), y1.abs())
    ratio = norm(error / scale)
    return torch.nan_to_num(ratio, nan=float("inf"))


@dataclasses.dataclass(frozen=True)
class PIController:
    """PI step-size controller (see the module docstring for the formula and references).

    ``first_max_factor`` caps the growth after a sample's first accepted step instead of ``max_factor``: the
    starting step (:func:`initial_step`) is a deliberately cautious guess, so the first error estimate is
    allowed to set the step almost freely (SUNDIALS: CVODE's ``eta_max_fs`` and ARKODE's
    ``SetMaxFirstGrowth``, both 10⁴ by default). Set it equal to ``max_factor`` for torchdiffeq's behaviour.

    ``hold_after_reject``: the step that follows a rejected one may not grow, even when its error is small
    (Hairer & Wanner's RODAS and RADAU5: ``if reject: h_new = min(h_new, h)``). A rejection says the error
    model was wrong a moment ago; growing at once on the next estimate is what lets a stiff method step over a
    transient its estimate under-reports.

    ``predictive``: Gustafsson's predictive controller as Hairer & Wanner's RODAS and RADAU5 use it (*Solving
    ODEs II*, §IV.8, eq. (8.21)): after an accepted step the multiplier is the smaller of the I controller's
    ``safety · ‖err_n‖^{-1/k}`` and ``safety · (h_n / h_{n-1}) · ‖err_{n-1}‖^{1/k} · ‖err_n‖^{-2/k}`` (the
    previous accepted error floored at 1e-2, as in RODAS), so a step whose error grows from one step to the
    next is cut before the estimate crosses 1. It replaces the PI terms (``pcoeff`` is ignored).
    """

    order: int
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 10.0
    pcoeff: float = 0.0
    icoeff: float = 1.0
    first_max_factor: float = 1e4
    hold_after_reject: bool = False
    predictive: bool = False

    def factor(self, ratio: torch.Tensor, prev_ratio: torch.Tensor, accept: torch.Tensor,
               cap: float | torch.Tensor | None = None, h_ratio: torch.Tensor | None = None) -> torch.Tensor:
        """Step multiplier ``[B]`` from the current and previous (accepted) error norms ``[B]``.

        ``ratio`` must be free of NaN (as :func:`error_ratio` returns it); ``cap`` is the upper clip (a float or
        a ``[B]`` tensor, default ``max_factor``); ``h_ratio`` is ``h_n / h_{n-1}`` (last accepted step), used by
        the predictive controller. After a rejection the multiplier is at most 1: without the P term that holds
        by construction (``ratio > 1`` and ``safety <= 1`` give a factor below 1).
        """
        k = float(self.order)
        if self.predictive:
            err = ratio.clamp_min(_TINY)
            fac = err.pow(-1.0 / k).mul_(self.safety)
            if h_ratio is not None:
                pred = err.pow(-2.0 / k).mul_(prev_ratio.clamp_min(1e-2).pow(1.0 / k)).mul_(h_ratio).mul_(self.safety)
                fac = torch.where(accept, torch.minimum(fac, pred), fac)
            return fac.clamp_min_(self.min_factor).clamp_max_(self.max_factor if cap is None else cap)
        fac = ratio.clamp_min(_TINY).pow_(-(self.pcoeff + self.icoeff) / k).mul_(self.safety)
        if self.pcoeff:
            fac.mul_(prev_ratio.clamp_min(_TINY).pow_(self.pcoeff / k))
            fac = torch.where(accept, fac, fac.clamp_max(1.0))
        return fac.clamp_min_(self.min_factor).clamp_max_(self.max_factor if cap is None else cap)


def initial_step(field: Any, t0: torch.Tensor, y0: torch.Tensor, f0: torch.Tensor, order: int, rtol: Any,
                 atol: Any) -> torch.Tensor:
    """Hairer's starting step size (HNW I, §II.4, "Starting step size"), per sample ``[B]`` in t0's dtype.

    Costs one evaluation of ``field`` (``f0 = f(t0, y0)`` is given). No gradient flows through it.
    """
    with torch.no_grad():
        scale = atol + rtol * y0.abs()
        d0 = rms_norm(y0 / scale)
        d1 = rms_norm(f0 / scale)
        h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
        shape = (-1,) + (1,) * (y0.dim() - 1)
        y1 = y0 + h0.reshape(shape) * f0
        f1 = field(t0.to(y0.dtype) + h0, y1)
        d2 = rms_norm((f1 - f0) / scale) / h0
        dmax = torch.maximum(d1, d2)
        h1 = torch.where(dmax <= 1e-15, torch.maximum(torch.full_like(h0, 1e-6), h0 * 1e-3),
                         (0.01 / dmax).pow(1.0 / (order + 1)))
        h = torch.minimum(100 * h0, h1)
        h = torch.nan_to_num(h, nan=1e-6, posinf=1e-6)
    return h.to(t0.dtype)


# Default step control per method family, with per-method exceptions (each overridable by the odeint options of
# the same names). Explicit methods keep the I controller (torchdiffeq's rule; benchmarked in
# benchmarks/bench_explicit.py). Rosenbrock methods get a proportional term and hold the step after a rejection
# (Hairer's RODAS): with the I controller a Rosenbrock step can grow across a late transient until the embedded
# estimate under-reports the true error ~90x (HIRES at rtol 1e-4: rodas5p returned 1.9 correct digits with a
# success status). benchmarks/bench_stiff_controllers.py is the study behind the values: rodas4/rodas5p take the
# lightest P term that removed every low-accuracy success there (pcoeff 0.1, icoeff 0.7; Robertson costs 5-11%
# more steps than the I controller), rosenbrock23, whose low-order estimate needs more damping (OREGO), takes the
# PI controller OrdinaryDiffEq.jl uses for Rosenbrock methods (beta1 = 7/(10k), beta2 = 2/(5k): pcoeff 0.4,
# icoeff 0.3).
CONTROLLER_DEFAULTS: dict[str, dict[str, Any]] = {
    "explicit": {"pcoeff": 0.0, "icoeff": 1.0, "hold_after_reject": False, "predictive": False},
    "rosenbrock": {"pcoeff": 0.1, "icoeff": 0.7, "hold_after_reject": True, "predictive": False},
    "rosenbrock23": {"pcoeff": 0.4, "icoeff": 0.3, "hold_after_reject": True, "predictive": False},
}


def controller_defaults(method: str, family: str) -> dict[str, Any]:
    """Default controller settings of ``method`` (its own entry, else its family's, else the explicit one)."""
    return CONTROLLER_DEFAULTS.get(method, CONTROLLER_DEFAULTS.get(family, CONTROLLER_DEFAULTS["explicit"]))
