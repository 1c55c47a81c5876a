"""The peer side of the ground-truth benchmarks: plain ``scipy.integrate.solve_ivp`` loops, one call per trajectory.

What a user writes without pysciml: ``solve_ivp(fun, (t0, t1), y0, method=..., t_eval=..., rtol=..., atol=...,
jac=...)`` in a Python loop, with a hand-written numpy field (Robertson) or the system's own numpy field on one
state (Kuramoto–Sivashinsky, whose field is FFTs either way).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

K1, K2, K3 = 0.04, 3.0e7, 1.0e4  # Robertson's rate constants (pysciml.systems.robertson defaults)


def robertson_rhs(t: float, y: np.ndarray) -> np.ndarray:
    """Robertson kinetics written by hand for one state ``[3]``."""
    y1, y2, y3 = y
    return np.array([-K1 * y1 + K3 * y2 * y3, K1 * y1 - K3 * y2 * y3 - K2 * y2 * y2, K2 * y2 * y2])


def robertson_jac(t: float, y: np.ndarray) -> np.ndarray:
    """Its analytic Jacobian ``[3, 3]``."""
    _, y2, y3 = y
    return np.array([[-K1, K3 * y3, K3 * y2], [K1, -K3 * y3 - 2.0 * K2 * y2, -K3 * y2], [0.0, 2.0 * K2 * y2, 0.0]])


def solve_ivp_loop(fun: Callable, jac: Callable | None, y0: np.ndarray, t_eval: np.ndarray, method: str,
                   rtol: float, atol: float | np.ndarray) -> np.ndarray:
    """``y [n, T, dim]`` from one ``solve_ivp`` call per row of ``y0 [n, dim]`` (NaN rows where it failed)."""
    out = np.full((y0.shape[0], t_eval.size, y0.shape[1]), np.nan)
    kwargs = {"jac": jac} if jac is not None else {}
    for i, row in enumerate(y0):
        sol = solve_ivp(fun, (t_eval[0], t_eval[-1]), row, method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                        **kwargs)
        if sol.success:
            out[i] = sol.y.T
    return out
