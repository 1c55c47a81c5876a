"""``RK4``: the classical fixed-step Runge–Kutta method as a ground-truth method of the python backend.

Janvier, Salomon & Meunier ("Jacobian Regularization Stabilizes Long-Term Integration of Neural Differential
Equations", arXiv:2602.04608; seed 001) generated their
two-body and rigid-body data with classical RK4 at ``dt = 0.01``; this method reproduces that recipe: the whole
ensemble ``y0 [batch, dim]`` is stepped at once in float64 by :func:`pysciml.odeint` (``method="rk4"``) on the
system's torch right-hand side with the step ``dt`` (a required method option; outputs falling between steps
are reached by shortening the step onto them). Statistics: ``nfev`` = 4 per step, ``njev`` = attempted
steps, ``steps`` = accepted steps. No error control: pick ``dt`` by convergence (or use an adaptive method).
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


def solve_rk4(system: System, y0: np.ndarray, t_eval: np.ndarray, request: SolveRequest) -> Solution:
    """Integrate every row of ``y0 [batch, dim]`` with classical RK4 at the fixed step ``options["dt"]``."""
    from ..integrators import odeint

    unknown = sorted(set(request.options) - {"dt"})
    if unknown:
        raise ValidationError(f"unknown option(s) {unknown} for RK4; valid: ['dt']")
    dt = request.options.get("dt")
    if dt is None:
        raise ValidationError("RK4 is a fixed-step method: pass its step, e.g. dt=0.01 (--option dt=0.01)")
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.integer, np.floating)) or not (
            np.isfinite(dt) and dt > 0):
        raise ValidationError(f"dt must be a positive finite step, got {dt!r}")
    start = time.perf_counter()
    with torch.no_grad():
        sol = odeint(system.rhs_torch, torch.as_tensor(y0, dtype=torch.float64),
                     torch.as_tensor(t_eval, dtype=torch.float64), method="rk4", step_size=float(dt),
                     max_steps=request.max_steps)
    return solution_from_ode(sol, system, t_eval, request, time.perf_counter() - start,
                             note=f" (RK4 fixed step dt={float(dt):.6g})")


register_python_method("RK4", solve_rk4, "batched classical RK4 at a fixed step dt (required option), the data "
                       "recipe of Janvier et al. (arXiv:2602.04608) for two-body and rigid-body")
