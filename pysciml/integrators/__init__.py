"""Differentiable ODE solvers in torch: one engine, many methods.

Importing this package registers every method family with :mod:`pysciml.integrators.registry`.
"""

from __future__ import annotations
