"""The shim's remaining routes: ``scipy_solver`` (SciPy's ``solve_ivp``, no gradients, as in torchdiffeq) and any
other pysciml method (stiff Rosenbrock, tsit5 … through :func:`pysciml.odeint` with the whole state as one sample).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..integrators import odeint as pysciml_odeint
from ..status import Status
from ._errors import SolveFailedError
from ._problem import Problem, pop_options


class ScipySolver:
    """``scipy.integrate.solve_ivp`` (``options['solver']``, default ``'LSODA'``) at the output times; the result
    carries no gradient."""

    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        self.opts = pop_options(prob.options, {"solver": "LSODA", "min_step": 0.0, "max_step": np.inf}, prob.method)

    def integrate(self, t: torch.Tensor) -> torch.Tensor:
        from scipy.integrate import solve_ivp

        y0 = self.prob.y0
        if t.numel() == 1:
            return y0.detach()[None]

        def rhs(tt: float, y: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = self.prob.func(torch.tensor(tt, dtype=y0.dtype), torch.as_tensor(y, dtype=y0.dtype))
            return out.cpu().numpy()

        rtol = self.prob.rtol.cpu().numpy() if isinstance(self.prob.rtol, torch.Tensor) else self.prob.rtol
        atol = self.prob.atol.cpu().numpy() if isinstance(self.prob.atol, torch.Tensor) else self.prob.atol
        extra = {"min_step": self.opts["min_step"]} if self.opts["solver"] == "LSODA" else {}
        tn = t.detach().cpu().double().numpy()
        sol = solve_ivp(rhs, (tn[0], tn[-1]), y0.detach().cpu().numpy(), method=self.opts["solver"], t_eval=tn,
                        rtol=np.maximum(rtol, 1e-13) if self.opts["solver"] != "LSODA" else rtol, atol=atol,
                        max_step=self.opts["max_step"], **extra)
        if not sol.success:
            raise SolveFailedError(f"scipy's {self.opts['solver']} failed: {sol.message}")
        return torch.as_tensor(sol.y.T, dtype=y0.dtype, device=y0.device)


class EngineSolver:
    """Any pysciml method, run by :func:`pysciml.odeint` on the flat state as one sample (its options apply)."""

    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        self.opts = {k: v for k, v in prob.options.items() if k != "norm"}

    def _field(self, tb: torch.Tensor, yb: torch.Tensor) -> Any:
        return self.prob.func(tb[0], yb[0]).unsqueeze(0)

    def integrate(self, t: torch.Tensor) -> torch.Tensor:
        y0 = self.prob.y0
        if t.numel() == 1:
            return y0[None]
        sol = pysciml_odeint(self._field, y0.unsqueeze(0), t, method=self.prob.method, rtol=self.prob.rtol,
                             atol=self.prob.atol, time_dtype=torch.promote_types(t.dtype, torch.float64),
                             **self.opts)
        if not bool(sol.success.all()):
            raise SolveFailedError(f"the solve failed: {Status(int(sol.status[0])).message}")
        return sol.ys[0]
