"""pysciml: stable, stiff-aware neural ODEs in PyTorch.

Top-level names are imported lazily so that ``import pysciml`` stays fast and the optional Julia
backend is never touched unless asked for.

* ground truth: :func:`solve`, :class:`Solution`, :mod:`pysciml.systems`
* data: :func:`generate`, :func:`load_dataset`, :class:`TrajectoryData`
* differentiable solvers: :func:`odeint`, :class:`ODESolution`, :func:`expmv`
* checkpoints: :func:`load_model` rebuilds a trained model from a trainer's checkpoint
* models, stability analysis, regularisers, trainers: :mod:`pysciml.models`, :mod:`pysciml.stability`,
  :mod:`pysciml.regularizers`, :mod:`pysciml.training`
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "solve": "pysciml.ground_truth",
    "Solution": "pysciml.backends.base",
    "generate": "pysciml.data",
    "load_dataset": "pysciml.data",
    "TrajectoryData": "pysciml.data",
    "odeint": "pysciml.integrators",
    "ODESolution": "pysciml.integrators",
    "expmv": "pysciml.integrators",
    "Status": "pysciml.status",
    "load_model": "pysciml.training.checkpoint",
}
_SUBMODULES = {"systems", "backends", "data", "integrators", "models", "stability", "regularizers",
               "training", "errors", "cli", "compat", "sensitivity", "datasets", "evaluation"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"pysciml.{name}")
    raise AttributeError(f"module 'pysciml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = sorted(_LAZY) + ["__version__"]
