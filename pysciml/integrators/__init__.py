"""Differentiable ODE solvers in torch: one engine, many methods.

Importing this package registers every method family with :mod:`pysciml.integrators.registry`.
"""

from __future__ import annotations

from . import (
    explicit,  # noqa: F401  (registers euler, midpoint, heun, ralston, rk4, bosh3, dopri5, tsit5)
    exponential,  # noqa: F401  (registers etd1, etd2rk, etdrk4)
    imex,  # noqa: F401  (registers imex_ssp2)
    rosenbrock,  # noqa: F401  (registers rosenbrock23, rodas4, rodas5p)
)
from .expmv import Diagonal, LinearOperator, expmv, phimv
from .fields import VectorField
from .linear import FourierMultiplier
from .odeint import odeint
from .registry import available_methods, make_stepper, register_method
from .solution import ODESolution
from .split import SplitField
from .stepper import Stepper, StepResult

__all__ = ["Diagonal", "FourierMultiplier", "LinearOperator", "ODESolution", "SplitField", "StepResult", "Stepper",
           "VectorField", "available_methods", "expmv", "make_stepper", "odeint", "phimv", "register_method"]
