"""Stiff initial-value problems with published reference solutions at the final time.

Problems and reference values are from the *Test Set for IVP Solvers* (F. Mazzia and F. Iavernaro,
University of Bari, release 2.4, 2008; problem descriptions after E. Hairer and G. Wanner, *Solving Ordinary
Differential Equations II*, 2nd ed., Springer 1996, §IV.10), except Prothero–Robinson, whose solution is exact.
Each right-hand side is written once for numpy arrays and torch tensors alike (the ``stack`` argument joins the
components), so the same formula feeds SciPy's solvers and pysciml's batched ones.

Accuracy is measured as the test set does, in *mixed significant correct digits*
``mescd = −log10 max_i |y_i − ref_i| / (atol/rtol + |ref_i|)`` (:func:`mixed_digits`): relative digits for
components larger than ``atol/rtol``, absolute ones below.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

Stack = Callable[[list[Any]], Any]


@dataclasses.dataclass(frozen=True)
class StiffProblem:
    """One test problem: ``y' = rhs(t, y, stack)`` on ``[0, t_end]`` from ``y0``.

    ``reference`` is the published solution at ``t_end``; tolerances are used as ``atol = atol_scale · rtol``
    (the test set's convention for the problem; E5 uses a fixed ``atol``, ``fixed_atol``).
    """

    name: str
    rhs: Callable[[Any, Any, Stack], Any]
    y0: tuple[float, ...]
    t_end: float
    reference: tuple[float, ...]
    atol_scale: float = 1.0
    fixed_atol: float | None = None
    source: str = "Test Set for IVP Solvers (Mazzia & Iavernaro, release 2.4)"

    def atol(self, rtol: float) -> float:
        """Absolute tolerance paired with ``rtol`` for this problem."""
        return self.fixed_atol if self.fixed_atol is not None else self.atol_scale * rtol

    def numpy_rhs(self) -> Callable[[float, np.ndarray], np.ndarray]:
        """``f(t, y)`` for ``scipy.integrate.solve_ivp`` (``y`` of shape ``[dim]``)."""
        return lambda t, y: np.asarray(self.rhs(t, y, np.stack))

    def torch_rhs(self) -> Callable[[Any, Any], Any]:
        """``f(t, y)`` for :func:`pysciml.odeint` (``y`` of shape ``[batch, dim]``)."""
        import torch

        return lambda t, y: self.rhs(t, y.T, torch.stack).T


def mixed_digits(y: np.ndarray, reference: np.ndarray, rtol: float, atol: float) -> float:
    """Mixed significant correct digits of ``y`` against ``reference`` (see the module docstring)."""
    err = np.abs(np.asarray(y, dtype=float) - np.asarray(reference, dtype=float))
    scale = atol / rtol + np.abs(np.asarray(reference, dtype=float))
    worst = float(np.max(err / scale))
    return math.inf if worst == 0.0 else -math.log10(worst)


def _hires(t: Any, y: Any, stack: Stack) -> Any:
    y1, y2, y3, y4, y5, y6, y7, y8 = y
    r = 280.0 * y6 * y8
    return stack([-1.71 * y1 + 0.43 * y2 + 8.32 * y3 + 0.0007, 1.71 * y1 - 8.75 * y2,
                  -10.03 * y3 + 0.43 * y4 + 0.035 * y5, 8.32 * y2 + 1.71 * y3 - 1.12 * y4,
                  -1.745 * y5 + 0.43 * y6 + 0.43 * y7, -r + 0.69 * y4 + 1.71 * y5 - 0.43 * y6 + 0.69 * y7,
                  r - 1.81 * y7, -r + 1.81 * y7])


def _rober(t: Any, y: Any, stack: Stack) -> Any:
    y1, y2, y3 = y
    return stack([-0.04 * y1 + 1e4 * y2 * y3, 0.04 * y1 - 1e4 * y2 * y3 - 3e7 * y2 * y2, 3e7 * y2 * y2])


def _vdpol(t: Any, y: Any, stack: Stack) -> Any:
    y1, y2 = y
    return stack([y2, ((1.0 - y1 * y1) * y2 - y1) / 1e-6])


def _orego(t: Any, y: Any, stack: Stack) -> Any:
    y1, y2, y3 = y
    return stack([77.27 * (y2 + y1 * (1.0 - 8.375e-6 * y1 - y2)), (y3 - (1.0 + y1) * y2) / 77.27,
                  0.161 * (y1 - y3)])


def _e5(t: Any, y: Any, stack: Stack) -> Any:
    a, b, c, m = 7.89e-10, 1.1e7, 1.13e3, 1e6
    y1, y2, y3, y4 = y
    f1 = -a * y1 - b * y1 * y3
    f2 = a * y1 - m * c * y2 * y3
    f4 = b * y1 * y3 - c * y4
    return stack([f1, f2, f2 - f4, f4])


def _prothero_robinson(t: Any, y: Any, stack: Stack) -> Any:
    # y' = λ (y − sin t) + cos t with λ = −1e6: the exact solution from y(0) = 0 is y = sin t
    (y1,) = y
    if isinstance(y1, np.ndarray | np.generic):
        s, c = np.sin(t), np.cos(t)
    else:
        tt = t.to(y1.dtype)
        s, c = tt.sin(), tt.cos()
    return stack([-1e6 * (y1 - s) + c])


STIFF_PROBLEMS: dict[str, StiffProblem] = {p.name: p for p in (
    StiffProblem("hires", _hires, (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0057), 321.8122,
                 (0.7371312573325668e-3, 0.1442485726316185e-3, 0.5888729740967575e-4, 0.1175651343283149e-2,
                  0.2386356198831331e-2, 0.6238968252742796e-2, 0.2849998395185769e-2, 0.2850001604814231e-2)),
    StiffProblem("rober", _rober, (1.0, 0.0, 0.0), 1e11,
                 (0.2083340149701255e-7, 0.8333360770334713e-13, 0.9999999791665050), atol_scale=1e-6),
    StiffProblem("vdpol", _vdpol, (2.0, 0.0), 2.0, (0.1706167732170483e1, -0.8928097010247975)),
    StiffProblem("orego", _orego, (1.0, 2.0, 3.0), 360.0,
                 (0.1000814870318523e1, 0.1228178521549917e4, 0.1320554942846706e3)),
    StiffProblem("e5", _e5, (1.76e-3, 0.0, 0.0, 0.0), 1e13,
                 (0.1152903278711829e-290, 0.8867655517642120e-22, 0.8854814626268838e-22, 0.0),
                 fixed_atol=1.7e-24),
    StiffProblem("prothero_robinson", _prothero_robinson, (0.0,), 10.0, (math.sin(10.0),),
                 source="Prothero & Robinson, Math. Comp. 28 (1974): exact solution y = sin t"),
)}
