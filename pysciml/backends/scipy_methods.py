"""SciPy solvers (Radau, BDF, LSODA, DOP853, RK45) behind the python backend.

Each trajectory is integrated by stepping a :class:`scipy.integrate.OdeSolver` directly (so that a step
budget ``max_steps`` and per-trajectory statuses can be enforced), with the system's analytic Jacobian
for the implicit methods. Trajectories run in a process pool when ``n_jobs > 1``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import integrate
from tqdm.auto import tqdm

from ..status import Status
from ..systems.base import System
from ._pool import one_blas_thread, worker_pool
from .base import Solution
from .python import SolveRequest, register_python_method

_SOLVERS: dict[str, tuple[type[integrate.OdeSolver], bool, str]] = {
    "Radau": (integrate.Radau, True, "SciPy Radau IIA (order 5, L-stable implicit), analytic Jacobian"),
    "BDF": (integrate.BDF, True, "SciPy variable-order BDF (orders 1-5), analytic Jacobian"),
    "LSODA": (integrate.LSODA, True, "SciPy LSODA (ODEPACK; automatic stiff/non-stiff switching), analytic Jacobian"),
    "DOP853": (integrate.DOP853, False, "SciPy Dormand-Prince 8(5,3) explicit (non-stiff problems)"),
    "RK45": (integrate.RK45, False, "SciPy Dormand-Prince 5(4) explicit (non-stiff problems)"),
}


#: Exceptions SciPy's solvers raise on non-finite numbers inside a step (LAPACK input checks, singular LU).
_NUMERIC_FAILURES = (ValueError, np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError, OverflowError)


def _numeric_message(exc: BaseException, t: float) -> str:
    return f"{Status.NON_FINITE.message}: SciPy raised {type(exc).__name__}: {exc} at t={t:.6g}"


@dataclasses.dataclass
class _TrajectoryResult:
    y: np.ndarray
    status: Status
    message: str
    nfev: int
    njev: int
    steps: int


def _single_state(fn: Callable[[float, np.ndarray], np.ndarray], t0: float,
                  y0: np.ndarray) -> Callable[[float, np.ndarray], np.ndarray]:
    """``fn`` (batched: ``[1, dim]`` in, ``[1, ...]`` out) as a callable on one state ``[dim]``.

    Systems whose field also accepts a single state ``[dim]`` (most do: they index ``y[..., i]``) are called
    directly, which halves the cost per evaluation; the probe compares both forms bitwise at ``y0``.
    """

    def wrapped(t: float, y: np.ndarray) -> np.ndarray:
        return fn(t, y[None, :])[0]

    try:
        direct = np.asarray(fn(t0, y0))
    except (ValueError, IndexError, TypeError):
        return wrapped
    reference = wrapped(t0, y0)
    if direct.shape == reference.shape and direct.dtype == reference.dtype and np.array_equal(direct, reference):
        return fn
    return wrapped


def _callables(system: System, t0: float, y0: np.ndarray,
               uses_jac: bool) -> tuple[Callable[[float, np.ndarray], np.ndarray], dict[str, Any]]:
    fun = _single_state(system.rhs, t0, y0)
    return fun, ({"jac": _single_state(system.jacobian, t0, y0)} if uses_jac else {})


def _solve_one(system: System, y0: np.ndarray, t_eval: np.ndarray, request: SolveRequest) -> _TrajectoryResult:
    solver_cls, uses_jac, _ = _SOLVERS[request.method]
    fun, kwargs = _callables(system, float(t_eval[0]), y0, uses_jac)
    kwargs.update(rtol=request.rtol, atol=request.atol, **request.options)
    out = np.full((t_eval.size, y0.size), np.nan)
    out[0] = y0
    try:
        solver = solver_cls(fun, t_eval[0], y0, t_eval[-1], **kwargs)
    except _NUMERIC_FAILURES as exc:  # e.g. a non-finite Jacobian at y0
        return _TrajectoryResult(out, Status.NON_FINITE, _numeric_message(exc, float(t_eval[0])), 0, 0, 0)
    next_out, steps = 1, 0
    status, message = Status.SUCCESS, Status.SUCCESS.message
    while solver.status == "running" and next_out < t_eval.size:
        if steps >= request.max_steps:
            status = Status.MAX_STEPS
            message = f"{Status.MAX_STEPS.message} (max_steps={request.max_steps}, t={solver.t:.6g})"
            break
        try:
            error = solver.step()
        except _NUMERIC_FAILURES as exc:  # LU of a non-finite Jacobian: this trajectory fails, the batch goes on
            status, message = Status.NON_FINITE, _numeric_message(exc, float(solver.t))
            break
        steps += 1
        if solver.status == "failed":
            text = str(error)
            status = Status.STEP_SIZE_TOO_SMALL if "step size" in text.lower() else Status.FAILED
            message = f"{status.message}: SciPy says {text!r} at t={solver.t:.6g}"
            break
        if not np.all(np.isfinite(solver.y)):
            status = Status.NON_FINITE
            message = f"{Status.NON_FINITE.message} (t={solver.t:.6g})"
            break
        stop = np.searchsorted(t_eval, solver.t, side="right")
        if stop > next_out:
            dense = solver.dense_output()
            out[next_out:stop] = dense(t_eval[next_out:stop]).T
            next_out = stop
    return _TrajectoryResult(out, status, message, int(solver.nfev), int(solver.njev), steps)


def _solve_chunk(args: tuple[System, np.ndarray, np.ndarray, SolveRequest]) -> list[_TrajectoryResult]:
    system, y0s, t_eval, request = args
    return [_solve_one(system, y0, t_eval, request) for y0 in y0s]


def solve_scipy(system: System, y0: np.ndarray, t_eval: np.ndarray, request: SolveRequest) -> Solution:
    """Integrate each row of ``y0 [batch, dim]`` with a SciPy method; outputs at ``t_eval [T]``.

    ``request.n_jobs > 1`` distributes trajectories over a pool of single-threaded worker processes
    (:mod:`._pool`), ``4 × n_jobs`` contiguous chunks so that uneven trajectory costs balance out. Extra
    ``request.options`` are passed to the SciPy solver (e.g. ``first_step``, ``max_step``).
    """
    start = time.perf_counter()
    batch = y0.shape[0]
    results: list[_TrajectoryResult] = []
    bar = tqdm(total=batch, desc=f"{system.name} {request.method}", unit="traj", disable=not request.progress)
    if request.n_jobs <= 1 or batch == 1:
        with one_blas_thread():  # the bits of a single-threaded worker (see one_blas_thread)
            for row in y0:
                results.append(_solve_one(system, row, t_eval, request))
                bar.update(1)
    else:
        n_chunks = min(batch, request.n_jobs * 4)
        chunks = np.array_split(np.arange(batch), n_chunks)
        with worker_pool(request.n_jobs) as pool:
            jobs = [(system, y0[idx], t_eval, request) for idx in chunks]
            for chunk_results in pool.map(_solve_chunk, jobs):
                results.extend(chunk_results)
                bar.update(len(chunk_results))
    bar.close()
    return Solution(
        t=t_eval.copy(),
        y=np.stack([r.y for r in results]),
        status=np.array([int(r.status) for r in results], dtype=np.int8),
        messages=[r.message for r in results],
        nfev=np.array([r.nfev for r in results], dtype=np.int64),
        njev=np.array([r.njev for r in results], dtype=np.int64),
        steps=np.array([r.steps for r in results], dtype=np.int64),
        wall_time=time.perf_counter() - start,
        method=request.method,
        backend="python",
        rtol=request.rtol,
        atol=request.atol,
        system=system.name,
        params=system.params.to_dict(),
    )


for _name, (_cls, _jac, _desc) in _SOLVERS.items():
    register_python_method(_name, solve_scipy, _desc)
