"""The default ``python`` backend: SciPy solvers per trajectory plus pysciml's batched torch solvers.

Method implementations register themselves with :func:`register_python_method`; this module imports the
method modules (SciPy, batched Rosenbrock, spectral ETDRK4) when the backend is first asked for its methods.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..systems.base import System
from ..validation import check_choice
from .base import Backend, Solution


@dataclasses.dataclass(frozen=True)
class SolveRequest:
    """Validated solver settings handed to a python-backend method implementation."""

    method: str
    rtol: float
    atol: float | np.ndarray
    max_steps: int
    n_jobs: int
    progress: bool
    options: dict[str, Any]


PythonMethod = Callable[[System, np.ndarray, np.ndarray, SolveRequest], Solution]


@dataclasses.dataclass(frozen=True)
class _Entry:
    fn: PythonMethod
    description: str


_METHODS: dict[str, _Entry] = {}
_METHOD_MODULES = (
    "pysciml.backends.scipy_methods",
    "pysciml.backends.rosenbrock_methods",
    "pysciml.backends.etd_methods",
    "pysciml.backends.fixed_step_methods",
)
_loaded = False


def register_python_method(name: str, fn: PythonMethod, description: str) -> None:
    """Register ``fn`` as python-backend method ``name`` (case-insensitive lookups; canonical spelling kept).

    ``fn(system, y0 [batch, dim], t_eval [T], request) -> Solution`` receives validated float64 arrays.
    """
    if name in _METHODS:
        raise ValueError(f"python-backend method {name!r} is already registered")
    _METHODS[name] = _Entry(fn, description)


def _load_methods() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _METHOD_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a method family not built into this install
            if exc.name != module:
                raise


class PythonBackend(Backend):
    """SciPy (Radau, BDF, LSODA, DOP853, …) and pysciml's batched torch solvers. Always available."""

    name = "python"

    def methods(self) -> list[str]:
        _load_methods()
        return list(_METHODS)

    def describe(self) -> dict[str, str]:
        """Method name → one-line description."""
        _load_methods()
        return {k: v.description for k, v in _METHODS.items()}

    def availability(self) -> tuple[bool, str]:
        return True, "always available (SciPy and torch are required dependencies)"

    def solve(self, system: System, y0: np.ndarray, t_eval: np.ndarray, *, method: str, rtol: float,
              atol: float | np.ndarray, max_steps: int, n_jobs: int, progress: bool,
              options: dict[str, Any]) -> Solution:
        name = check_choice(method, "method", self.methods(), case_sensitive=False)
        request = SolveRequest(name, rtol, atol, max_steps, n_jobs, progress, dict(options))
        return _METHODS[name].fn(system, y0, t_eval, request)
