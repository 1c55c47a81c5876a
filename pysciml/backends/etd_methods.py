"""``ETDRK4`` ground truth for semilinear systems ``y' = L y + N(t, y)`` behind the python backend.

The whole ensemble is integrated at once by :func:`pysciml.odeint` with the ``etdrk4`` stepper (Cox &
Matthews 2002, Kassam & Trefethen 2005) on the system's :meth:`~pysciml.systems.base.System.split_field`: for
Kuramoto–Sivashinsky that is a Fourier multiplier, so every stage costs a few FFTs and the stiff linear
part is integrated exactly. Fixed step:

* ``dt=<step>`` (method option) uses that step;
* otherwise the step is chosen from ``rtol``/``atol`` by step doubling with an error estimate, starting small:
  candidates ``h_k = 2^k h_0`` with ``h_0 = Δ/2^12`` (``Δ`` the smallest output spacing) are tried in
  increasing order. For each, a pilot run of ``pilot_steps`` (20) steps of size ``h_k`` from the initial
  states of (up to 32 evenly chosen) trajectories gives states ``y_j``, and at each the local error of one
  step is estimated as ``|y_h - y_{h/2,h/2}| · 16/15`` (order 4: Richardson's ``2^4/(2^4 - 1)``); its scaled
  RMS norm (``atol + rtol |y|`` per component) must stay ≤ 1 at every pilot state. The largest passing
  ``h_k`` (never beyond the output spacing) is used, shrunk so that it divides the output spacing when the
  outputs are equispaced. A candidate whose pilot run or estimate is non-finite fails and ends the search:
  non-finite states are never used as initial states. When even ``h_0`` fails, a
  :class:`~pysciml.errors.ValidationError` says so and asks for a looser tolerance or an explicit ``dt``.
  The chosen step is reported in every message.

The pilot window covers ``pilot_steps · h`` from the start; for long chaotic runs the local error may grow
later, so pass ``dt`` for full control.
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
    """Largest per-state RMS of ``err / (atol + rtol |y|)`` (``inf`` when anything is non-finite)."""
    ratio = ((err / (atol + rtol * y.abs())) ** 2).mean(dim=1).sqrt().max()
    return float(ratio) if bool(torch.isfinite(ratio)) and bool(torch.isfinite(y).all()) else float("inf")


def _local_error_ratio(field: object, y0: torch.Tensor, t0: float, h: float, pilot_steps: int, rtol: float,
                       atol: torch.Tensor | float) -> float:
    """Scaled step-doubling estimate of ETDRK4's local error at the states of a pilot run of step ``h``."""
    from ..integrators import odeint

    grid = torch.tensor([t0 + k * h for k in range(pilot_steps + 1)], dtype=torch.float64)
    states = odeint(field, y0, grid, method="etdrk4", step_size=h).ys[:, :-1].reshape(-1, y0.shape[1])
    if not bool(torch.isfinite(states).all()):
        return float("inf")
    pair = torch.tensor([0.0, h], dtype=torch.float64)
    big = odeint(field, states, pair, method="etdrk4", step_size=h).ys[:, -1]
    small = odeint(field, states, pair, method="etdrk4", step_size=h / 2).ys[:, -1]
    return _scaled_rms((big - small) * (16.0 / 15.0), small, rtol, atol)


def select_step(field: object, y0: torch.Tensor, t_eval: np.ndarray, rtol: float,
                atol: torch.Tensor | float, pilot_steps: int = 20, max_pilot_trajectories: int = 32) -> float:
    """Fixed ETDRK4 step meeting ``rtol``/``atol`` in local error (procedure in the module docstring).

    ``y0 [batch, dim]``; ``t_eval [T]``. Raises :class:`ValidationError` when no candidate step passes.
    """
    spacing = np.diff(t_eval)
    h_max = float(spacing.min())
    h = h_max / 2.0 ** 12
    pick = np.unique(np.linspace(0, y0.shape[0] - 1, min(y0.shape[0], max_pilot_trajectories)).round().astype(int))
    pilot = y0[torch.as_tensor(pick)]
    t0 = float(t_eval[0])
    accepted = None
    while h <= h_max * (1 + 1e-12):
        ratio = _local_error_ratio(field, pilot, t0, h, pilot_steps, rtol, atol)
        if not ratio <= 1.0:
            break
        accepted = h
        h *= 2.0
    if accepted is None:
        raise ValidationError(f"no ETDRK4 step meets rtol={rtol:g}/atol: even dt={h:.3g} (output spacing / 4096) "
                              f"gives a local error estimate {ratio:.3g} times the tolerance. Loosen the "
                              "tolerances or pass dt=<step> explicitly (--option dt=...)")
    if np.allclose(spacing, spacing[0], rtol=1e-10, atol=0.0):
        accepted = float(spacing[0]) / int(np.ceil(float(spacing[0]) / accepted - 1e-9))
    return accepted


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
