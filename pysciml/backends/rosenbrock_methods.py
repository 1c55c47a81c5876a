"""Batched Rosenbrock ground truth behind the python backend: ``Rodas5P``, ``Rodas4``, ``Rosenbrock23``.

The whole ensemble ``y0 [batch, dim]`` is integrated at once by :func:`pysciml.integrators.odeint` with
the differentiable torch Rosenbrock stepper (:mod:`pysciml.integrators.rosenbrock`) in float64: per-sample
adaptive steps, one batched LU per step, the system's analytic Jacobian (``System.jacobian``) and its
torch right-hand side (``System.rhs_torch``). ``∂f/∂t`` is skipped for systems whose ``rhs_torch`` does
not depend on ``t`` (probed once) and taken by autograd otherwise. Per-sample status codes and statistics
come back in the :class:`~pysciml.backends.base.Solution`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..systems.base import System
from .base import Solution
from .batched import solution_from_ode
from .python import SolveRequest, register_python_method

if TYPE_CHECKING:
    from ..integrators.fields import VectorField

#: python-backend name -> (integrator method name, description)
_METHODS = {
    "Rodas5P": ("rodas5p", "batched torch Rodas5P (Steinebach 2023; order 5(4), L-stable), "
                "whole ensemble at once"),
    "Rodas4": ("rodas4", "batched torch Rodas4 (Hairer-Wanner; order 4(3), L-stable), "
               "whole ensemble at once"),
    "Rosenbrock23": ("rosenbrock23", "batched torch Rosenbrock23 (Shampine-Reichelt ode23s; order 2(3)), "
                     "whole ensemble at once"),
}


def _is_autonomous(system: System, y0: torch.Tensor) -> bool:
    """True when ``system.rhs_torch`` does not depend on ``t`` (no autograd path from ``t``)."""
    with torch.enable_grad():
        t = torch.zeros(y0.shape[0], dtype=y0.dtype, requires_grad=True)
        out = system.rhs_torch(t, y0)
    return not (isinstance(out, torch.Tensor) and out.requires_grad)


def _numpy_jacobian(system: System) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The system's analytic numpy Jacobian as a torch callable ``(t [B], y [B, D]) -> [B, D, D]``."""

    def jac(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = system.jacobian(t.detach().cpu().numpy(), y.detach().cpu().numpy())
        return torch.as_tensor(np.ascontiguousarray(out), dtype=y.dtype, device=y.device)

    return jac


def rosenbrock_field(system: System, y0: torch.Tensor) -> VectorField:
    """The field the batched Rosenbrock methods integrate: ``rhs_torch`` with the system's analytic Jacobian,
    declared autonomous when ``rhs_torch`` does not depend on ``t`` (probed at ``y0 [batch, dim]``)."""
    from ..integrators.fields import VectorField

    return VectorField(system.rhs_torch, _numpy_jacobian(system), autonomous=_is_autonomous(system, y0))


def solve_rosenbrock(system: System, y0: np.ndarray, t_eval: np.ndarray, request: SolveRequest) -> Solution:
    """Integrate every row of ``y0 [batch, dim]`` at once with a batched Rosenbrock method.

    Outputs at ``t_eval [T]`` come from the method's dense output (Rodas interpolants; Hermite for
    Rosenbrock23). ``request.options`` are passed to :func:`pysciml.integrators.odeint` (e.g.
    ``first_step``). Statistics: ``nfev`` per trajectory from the solver, ``njev`` = attempted steps (one
    Jacobian each), ``steps`` = accepted steps.
    """
    from ..integrators import odeint

    start = time.perf_counter()
    method = _METHODS[request.method][0]
    y0_t = torch.as_tensor(y0, dtype=torch.float64)
    t_t = torch.as_tensor(t_eval, dtype=torch.float64)
    atol = request.atol if np.isscalar(request.atol) else torch.as_tensor(request.atol, dtype=torch.float64)
    field = rosenbrock_field(system, y0_t)
    with torch.no_grad():
        sol = odeint(field, y0_t, t_t, method=method, rtol=request.rtol, atol=atol,
                     max_steps=request.max_steps, **request.options)
    return solution_from_ode(sol, system, t_eval, request, time.perf_counter() - start)


for _name, (_method, _desc) in _METHODS.items():
    register_python_method(_name, solve_rosenbrock, _desc)
