"""Turn a batched torch :class:`~pysciml.integrators.ODESolution` into a ground-truth :class:`Solution`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..status import Status
from ..systems.base import System
from .base import Solution


def solution_from_ode(sol: Any, system: System, t_eval: np.ndarray, request: Any, wall_time: float,
                      note: str = "") -> Solution:
    """Numpy :class:`Solution` from an ``ODESolution`` of the whole ensemble.

    Outputs of a failed trajectory after its last finite value are NaN and its message says where it
    stopped. Statistics: ``nfev`` from the solver, ``njev`` = attempted steps (Rosenbrock methods build one
    Jacobian per step), ``steps`` = accepted steps. ``note`` is appended to every message.
    """
    ys = np.asarray(sol.ys.detach().cpu().numpy(), dtype=np.float64)  # the ODESolution is ours: no copy
    status = sol.status.detach().cpu().numpy().astype(np.int8)
    stats = {k: v.detach().cpu().numpy().astype(np.int64) for k, v in sol.stats.items()}
    messages = []
    for i, code in enumerate(status):
        st = Status(int(code))
        message = st.message
        if st != Status.SUCCESS:
            bad = ~np.all(np.isfinite(ys[i]), axis=-1)
            ys[i, bad] = np.nan
            if np.any(~bad):
                message += f"; last finite output t={t_eval[~bad][-1]:.6g}"
        messages.append(message + note)
    return Solution(t=t_eval.copy(), y=ys, status=status, messages=messages, nfev=stats["n_f_evals"],
                    njev=stats["n_steps"], steps=stats["n_accepted"], wall_time=wall_time,
                    method=request.method, backend="python", rtol=request.rtol, atol=request.atol,
                    system=system.name, params=system.params.to_dict())
