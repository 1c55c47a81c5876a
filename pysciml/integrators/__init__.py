"""Differentiable ODE solvers in torch: one engine, many methods.

Importing this package registers every method family with :mod:`pysciml.integrators.registry`.
"""

from __future__ import annotations

from . import (
           explicit,  # noqa: F401  (registers euler, midpoint, heun, ralston, rk4, bosh3, dopri5, tsit5)
           rosenbrock,  # noqa: F401  (registers rosenbrock23, rodas4, rodas5p)
)
from .fields import VectorField
from .odeint import odeint
from .registry import available_methods, make_stepper, register_method
from .solution import ODESolution
from .stepper import Stepper, StepResult

__all__ = ["ODESolution", "StepResult", "Stepper", "VectorField", "available_methods", "make_stepper",
           "odeint",
           "register_method"]
