"""``ETDRK4`` ground truth for semilinear systems ``y' = L y + N(t, y)`` behind the python backend.

The whole ensemble is integrated at once by :func:`pysciml.odeint` with the ``etdrk4`` stepper (Cox &
Matthews 2002, Kassam & Trefethen 2005) on the system's :meth:`~pysciml.systems.base.System.split_field`: for
Kuramoto–Sivashinsky that is a Fourier multiplier, so every stage costs a few FFTs and the stiff linear
part is integrated exactly. Fixed step:

* ``dt=<step>`` (method option) uses that step;
* otherwise the step is chosen from ``rtol``/``atol`` like the local error control of adaptive codes:
  starting from ``span/16``, the step-doubling estimate ``|y_h - y_{h/2,h/2}| · 16/15`` of the local
  error (order 4, so the estimate is ``2^4/(2^4 - 1)`` times the difference) is measured at every state of a
  pilot run over the first ``pilot_steps`` (20) steps of the whole ensemble; while its scaled RMS norm
  exceeds 1 the step is reduced by ``0.9 · ratio^{-1/5}``. The accepted step is shrunk so that it divides
  the output spacing when the outputs are equispaced. The chosen step is reported in every message.

For long chaotic runs the local error may grow after the pilot window; pass ``dt`` for full control.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..errors import ValidationError
from ..systems.base import System
from .base import Solution
from .batched import solution_from_ode
from .python import SolveRequest, register_python_method

_OPTIONS = ("dt", "pilot_steps")


def _scaled_rms(err: torch.Tensor, y: torch.Tensor, rtol: float, atol: torch.Tensor | float) -> float:
    return float(((err / (atol + rtol * y.abs())) ** 2).mean(dim=1).sqrt().max())


def select_step(field: object, y0: torch.Tensor, t_eval: np.ndarray, rtol: float,
                atol: torch.Tensor | float, pilot_steps: int = 20) -> float:
    """Fixed ETDRK4 step meeting ``rtol``/``atol`` in local error (see the module docstring)."""
    from ..integrators import odeint

    span = float(t_eval[-1] - t_eval[0])
    h = span / 16.0
    t0 = float(t_eval[0])
    for _ in range(60):
        n_pilot = int(min(pilot_steps, max(1, round(span / h))))
        grid = torch.tensor([t0 + k * h for k in range(n_pilot + 1)], dtype=torch.float64)
        states = odeint(field, y0, grid, method="etdrk4", step_size=h).ys  # [B, n+1, D]
        starts = states[:, :-1].reshape(-1, y0.shape[1])
        pair = torch.tensor([0.0, h], dtype=torch.float64)
        big = odeint(field, starts, pair, method="etdrk4", step_size=h).ys[:, -1]
        small = odeint(field, starts, pair, method="etdrk4", step_size=h / 2).ys[:, -1]
        ratio = _scaled_rms((big - small) * (16.0 / 15.0), small, rtol, atol)
        if not np.isfinite(ratio):
            h /= 4.0
            continue
        if ratio <= 1.0:
            break
        h *= max(0.1, 0.9 * ratio ** (-1.0 / 5.0))
    else:
        raise ValidationError("could not find an ETDRK4 step meeting the tolerance; pass dt=<step> explicitly")
    spacing = np.diff(t_eval)
    if np.allclose(spacing, spacing[0], rtol=1e-10, atol=0.0):
        h = float(spacing[0]) / int(np.ceil(float(spacing[0]) / h - 1e-9))
    return h


def solve_etdrk4(system: System, y0: np.ndarray, t_eval: np.ndarray, request: SolveRequest) -> Solution:
    """Integrate every row of ``y0 [batch, dim]`` at once with ETDRK4 on the system's semilinear split.

    Options: ``dt`` (fixed step; default: chosen from the tolerances), ``pilot_steps`` (20). Statistics:
    ``nfev`` = evaluations of ``N`` (4 per step), ``njev`` = attempted steps, ``steps`` = accepted steps.
    """
    from ..integrators import odeint

    unknown = sorted(set(request.options) - set(_OPTIONS))
    if unknown:
        raise ValidationError(f"unknown option(s) {unknown} for ETDRK4; valid: {list(_OPTIONS)}")
    if not system.semilinear:
        raise ValidationError(f"ETDRK4 needs a semilinear system y' = L y + N(t, y); {system.name!r} is not one "
                              "(use Rodas5P or Radau)")
    start = time.perf_counter()
    field = system.split_field(torch.float64)
    y0_t = torch.as_tensor(y0, dtype=torch.float64)
    atol = request.atol if np.isscalar(request.atol) else torch.as_tensor(request.atol, dtype=torch.float64)
    with torch.no_grad():
        dt = request.options.get("dt")
        if dt is None:
            pilot = request.options.get("pilot_steps", 20)
            dt = select_step(field, y0_t, t_eval, request.rtol, atol, int(pilot))
            how = "chosen from rtol/atol by step doubling"
        else:
            dt = float(dt)
            if not (np.isfinite(dt) and dt > 0):
                raise ValidationError(f"dt must be a positive finite step, got {request.options['dt']!r}")
            how = "given"
        sol = odeint(field, y0_t, torch.as_tensor(t_eval, dtype=torch.float64), method="etdrk4", step_size=dt,
                     max_steps=request.max_steps)
    return solution_from_ode(sol, system, t_eval, request, time.perf_counter() - start,
                             note=f" (ETDRK4 fixed step dt={dt:.6g}, {how})")


register_python_method("ETDRK4", solve_etdrk4, "batched ETDRK4 (Cox-Matthews / Kassam-Trefethen) for semilinear "
                       "systems; spectral for Kuramoto-Sivashinsky; fixed step from dt or from the tolerances")
