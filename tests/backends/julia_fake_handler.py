"""Test double for the Julia worker's request handler (pure Python, no Julia): exercises the real worker
process, wire protocol, error propagation and lifecycle of :mod:`pysciml.backends.julia`. It makes no claim
about Julia itself."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np


class FakeHandler:
    """Behaviour picked by ``FAKE_HANDLER_MODE``: ``ok`` (default), ``fail`` (start-up error), ``hang``,
    ``slow`` (starts after 3 s)."""

    def __init__(self) -> None:
        mode = os.environ.get("FAKE_HANDLER_MODE", "ok")
        if mode == "fail":
            raise RuntimeError("fake start-up failure: could not find Julia")
        if mode == "hang":
            time.sleep(120)
        if mode == "slow":  # a start that takes a few seconds, like a short precompilation
            time.sleep(3.0)

    def info(self) -> dict[str, Any]:
        return {"julia_version": "fake", "threads": 1, "pid": os.getpid(),
                "torch_imported": "torch" in sys.modules, "juliacall_imported": "juliacall" in sys.modules}

    def op_echo(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def op_affine(self, x: np.ndarray, a: float, b: np.ndarray) -> np.ndarray:
        return a * x + b

    def op_fail(self) -> None:
        raise ValueError("deliberate failure inside the worker")

    def op_crash(self) -> None:
        os._exit(3)


class LinearFakeHandler(FakeHandler):
    """Stand-in for the Julia module on *linear* problems only: ``y(t) = expm((t - t0) A) y0`` with
    ``A = params[:4].reshape(2, 2)`` (transient_growth with ε = 0; ``params[4]`` is ignored). Its sensitivity
    reply is the exact gradient of that model (Fréchet derivative of expm), so that torch gradcheck can test
    the Python autograd wiring of the bridge. Records the last request for inspection."""

    last: dict[str, Any] = {}

    def _trajectory(self, params: np.ndarray, u0: np.ndarray, tsave: np.ndarray) -> np.ndarray:
        import scipy.linalg

        a = np.asarray(params[:4], dtype=np.float64).reshape(2, 2)
        return np.stack([scipy.linalg.expm((t - tsave[0]) * a) @ u0 for t in tsave])

    def op_last(self) -> dict[str, Any]:
        return LinearFakeHandler.last

    def op_solve_ensemble(self, **kw: Any) -> dict[str, Any]:
        LinearFakeHandler.last = kw
        n = kw["u0s"].shape[0]
        y = np.stack([self._trajectory(kw["params"], u0, kw["tsave"]) for u0 in kw["u0s"]])
        codes = ["ReturnCode.Success"] * n
        if n > 1:  # the last of several trajectories reports running out of steps
            codes[-1] = "ReturnCode.MaxIters"
        return {"y": y, "codes": codes,
                "nfev": np.arange(n) + 10, "njev": np.ones(n, dtype=np.int64), "steps": np.arange(n) + 3}

    def op_sensitivity(self, **kw: Any) -> dict[str, Any]:
        import scipy.linalg

        LinearFakeHandler.last = kw
        a = np.asarray(kw["params"][:4]).reshape(2, 2)
        u0, ts, g = kw["u0"], kw["tsave"], kw["data"]
        y = self._trajectory(kw["params"], u0, ts)
        cot = g if kw["loss"] == "dot" else y - g
        grad_u0 = sum(scipy.linalg.expm((t - ts[0]) * a).T @ c for t, c in zip(ts, cot))
        grad_a = np.zeros(4)
        for idx in range(4):
            e = np.zeros(4)
            e[idx] = 1.0
            for t, c in zip(ts, cot):
                dt = t - ts[0]
                _, frechet = scipy.linalg.expm_frechet(dt * a, dt * e.reshape(2, 2))
                grad_a[idx] += c @ frechet @ u0
        value = float(np.sum(g * y)) if kw["loss"] == "dot" else 0.5 * float(np.sum((y - g) ** 2))
        return {"loss": value, "grad_params": np.append(grad_a, 0.0), "grad_y0": grad_u0, "y": y}
