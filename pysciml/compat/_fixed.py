"""Fixed-grid solving with torchdiffeq's semantics: explicit Runge–Kutta and Adams methods.

The grid is ``options['grid_constructor'](func, y0, t)`` when given, a grid of ``step_size`` from ``t[0]`` (its
last point moved onto ``t[-1]``) when ``step_size`` is given, else the output times themselves (torchdiffeq's
behaviour: no ``step_size`` means one step per output interval). Values at output times between grid points are
interpolated linearly (``interp='linear'``, the default) or by cubic Hermite (``interp='cubic'``, one extra
evaluation of ``f`` per step). ``perturb=True`` evaluates ``f`` just after the step start and just before its end
(``nextafter``), for fields with discontinuities on the grid.

Runge–Kutta steps are :meth:`pysciml.integrators.explicit.ExplicitRK.step` on a batch of one. Adams methods
(variable order, as torchdiffeq's ``explicit_adams``/``implicit_adams``): after three starting steps of Kutta's
3/8 rule, the ``k``-step Adams–Bashforth formula with ``k = min(steps so far, max_order - 1)``; the implicit
variant corrects it with the ``(k+1)``-node Adams–Moulton formula by functional iteration (at most ``max_iters``,
until the change is below ``atol + rtol |y|`` in the max norm). The coefficients are computed exactly
(:func:`adams_coefficients`).
"""

from __future__ import annotations

import collections
import functools
import math
import warnings
from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any

import torch

from ..errors import ValidationError
from ..integrators.explicit import TABLEAUX, ExplicitRK
from ._errors import SolveFailedError
from ._events import find_event
from ._problem import Problem, pop_options

#: torchdiffeq name -> pysciml tableau
RK_METHODS = {"euler": "euler", "midpoint": "midpoint", "heun2": "heun", "heun3": "heun3", "rk4": "rk4_38"}
ADAMS_METHODS = ("explicit_adams", "implicit_adams", "fixed_adams")

_GRID_OPTIONS: dict[str, Any] = {"step_size": None, "grid_constructor": None, "interp": "linear", "perturb": False}
_MAX_EVENT_STEPS = 20_000


@functools.cache
def adams_coefficients(steps: int, implicit: bool) -> tuple[Fraction, ...]:
    """Exact weights ``β_j`` of the ``steps``-step Adams formula ``y_{n+1} = y_n + h Σ_j β_j f_{n+1-j}`` (implicit,
    ``j = 0..steps``) or ``y_{n+1} = y_n + h Σ_j β_j f_{n-j}`` (explicit, ``j = 0..steps-1``): the integrals over
    ``[0, 1]`` of the Lagrange basis polynomials on the nodes ``1, 0, -1, …`` (Hairer, Nørsett & Wanner, *Solving
    ODEs I*, §III.1)."""
    nodes = [Fraction(1 - j) for j in range(steps + 1)] if implicit else [Fraction(-j) for j in range(steps)]
    weights = []
    for j, s_j in enumerate(nodes):
        poly = [Fraction(1)]  # coefficients in ascending powers of s
        for m, s_m in enumerate(nodes):
            if m != j:
                scale = 1 / (s_j - s_m)
                poly = [(a - s_m * b) * scale for a, b in zip([Fraction(0), *poly], [*poly, Fraction(0)], strict=True)]
        weights.append(sum(c / (p + 1) for p, c in enumerate(poly)))
    return tuple(weights)


class FixedGrid(ABC):
    """torchdiffeq's ``FixedGridODESolver`` behaviour (see the module docstring)."""

    #: the step callbacks this solver calls
    CALLBACKS = ("callback_step",)

    def __init__(self, prob: Problem, extra: dict[str, Any] | None = None) -> None:
        self.prob = prob
        self.func = prob.func
        self.y0 = prob.y0
        self.rtol, self.atol = prob.rtol, prob.atol
        opts = pop_options(prob.options, {**_GRID_OPTIONS, **(extra or {})}, prob.method)
        self.opts = opts
        if opts["interp"] not in ("linear", "cubic"):
            raise ValidationError(f"options['interp'] must be 'linear' or 'cubic', got {opts['interp']!r}")
        if opts["step_size"] is not None and opts["grid_constructor"] is not None:
            raise ValidationError("step_size and grid_constructor are mutually exclusive options; give one")
        if opts["step_size"] is not None and not float(opts["step_size"]) > 0:
            raise ValidationError(f"options['step_size'] must be > 0, got {opts['step_size']!r}")
        self.perturb = bool(opts["perturb"])
        self._bounds: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- evaluation of f with torchdiffeq's perturbation at the step ends -------------------------------------
    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        perturb = 0
        if self.perturb and self._bounds is not None:
            t0, t1 = self._bounds
            tt = t.to(t0.dtype)
            if bool(tt == t0):
                perturb = 1
            elif bool(torch.isclose(tt, t1, rtol=1e-12, atol=0.0)):
                perturb, t = -1, t1
        return self.func(t, y, perturb)

    @abstractmethod
    def step(self, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
             y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y1, f(t0, y0))`` for one step of the method."""

    def _grid(self, t: torch.Tensor) -> torch.Tensor:
        step = self.opts["step_size"]
        if self.opts["grid_constructor"] is not None:
            grid = torch.as_tensor(self.opts["grid_constructor"](self.func, self.y0, t)).to(t)
        elif step is not None:
            n = math.ceil(float((t[-1] - t[0]).detach()) / float(step) + 1)
            grid = torch.arange(n, dtype=t.dtype, device=t.device) * float(step) + t[0]
            grid[-1] = t[-1]
        else:
            grid = t
        if grid.dim() != 1 or not (bool(grid[0] == t[0]) and bool(grid[-1] == t[-1])):
            raise ValidationError("the time grid must be 1-D and start at t[0] and end at t[-1]")
        return grid

    def _interp(self, t0: Any, t1: Any, y0: torch.Tensor, y1: torch.Tensor, f0: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
        if self.opts["interp"] == "cubic":
            f1 = self.f(t1, y1)
            h = t1 - t0
            x = ((t - t0) / h).to(y0.dtype)
            hy = h.to(y0.dtype)
            return ((1 + 2 * x) * (1 - x) ** 2 * y0 + x * (1 - x) ** 2 * hy * f0 + x**2 * (3 - 2 * x) * y1
                    + x**2 * (x - 1) * hy * f1)
        if bool(t == t0):
            return y0
        if bool(t == t1):
            return y1
        return y0 + ((t - t0) / (t1 - t0)).to(y0.dtype) * (y1 - y0)

    def integrate(self, t: torch.Tensor) -> torch.Tensor:
        """Solution ``[T, N]`` at the increasing times ``t``."""
        grid = self._grid(t)
        out = [self.y0]
        j = 1
        y0 = self.y0
        for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
            self._bounds = (t0, t1)
            self.prob.callback("callback_step", t0, y0, t1 - t0)
            y1, f0 = self.step(t0, t1 - t0, t1, y0)
            while j < len(t) and bool(t1 >= t[j]):
                out.append(self._interp(t0, t1, y0, y1, f0, t[j]))
                j += 1
            y0 = y1
        self._bounds = None
        return torch.stack(out)

    def integrate_until_event(self, t0: torch.Tensor, event_fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps of ``step_size`` until ``event_fn`` changes sign, then bisection of the interpolant."""
        if self.opts["step_size"] is None:
            raise ValidationError("event handling with a fixed-grid method needs options['step_size']")
        dt = torch.as_tensor(float(self.opts["step_size"]), dtype=t0.dtype, device=t0.device)
        y0 = self.y0
        with torch.no_grad():
            sign0 = torch.sign(event_fn(t0, y0))
        for _ in range(_MAX_EVENT_STEPS):
            t1 = t0 + dt
            self._bounds = (t0, t1)
            self.prob.callback("callback_step", t0, y0, dt)
            y1, f0 = self.step(t0, dt, t1, y0)
            with torch.no_grad():
                changed = bool(torch.sign(event_fn(t1, y1)) != sign0)
            if changed:
                def interp(tt: torch.Tensor, t0: Any = t0, t1: Any = t1, y0: Any = y0, y1: Any = y1,
                           f0: Any = f0) -> torch.Tensor:
                    return self._interp(t0, t1, y0, y1, f0, tt)

                tol = float(self.atol.min()) if isinstance(self.atol, torch.Tensor) else float(self.atol)
                event_t = find_event(interp, sign0, t0, t1, event_fn, tol)
                self._bounds = None
                return event_t, torch.stack([self.y0, interp(event_t)])
            t0, y0 = t1, y1
        raise SolveFailedError(f"no event within {_MAX_EVENT_STEPS} steps of step_size {float(dt)}")


class FixedRK(FixedGrid):
    """A fixed-grid explicit Runge–Kutta method (a pysciml tableau)."""

    def __init__(self, prob: Problem) -> None:
        self.stepper = ExplicitRK(TABLEAUX[RK_METHODS[prob.method]])
        super().__init__(prob)

    def _field(self, tb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return self.f(tb[0], yb[0]).unsqueeze(0)

    def step(self, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
             y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        res = self.stepper.step(self._field, t0.reshape(1), y0.unsqueeze(0), dt.reshape(1), None)
        return res.y[0], res.interp[0][0]


class Adams(FixedGrid):
    """Variable-order Adams–Bashforth(–Moulton) on a fixed grid (see the module docstring)."""

    _MIN_ORDER = 4
    _MAX_ORDER = 12

    def __init__(self, prob: Problem) -> None:
        implicit = prob.method != "explicit_adams"
        super().__init__(prob, {"max_order": self._MAX_ORDER, "max_iters": 4})
        self.implicit = implicit
        self.max_order = int(self.opts["max_order"])
        self.max_iters = int(self.opts["max_iters"])
        if not 1 <= self.max_order <= self._MAX_ORDER:
            raise ValidationError(f"options['max_order'] must be in [1, {self._MAX_ORDER}], got {self.max_order}")
        if self.max_order < self._MIN_ORDER:
            warnings.warn(f"max_order is below {self._MIN_ORDER}, so the solver reduces to rk4", stacklevel=3)
        self.history: collections.deque[torch.Tensor] = collections.deque(maxlen=max(self.max_order - 1, 1))
        self.rk4 = ExplicitRK(TABLEAUX["rk4_38"])
        self.ab = {k: [float(c) for c in adams_coefficients(k, False)] for k in range(1, self._MAX_ORDER)}
        self.am = {k: [float(c) for c in adams_coefficients(k, True)] for k in range(1, self._MAX_ORDER)}
        self._last_t: torch.Tensor | None = None

    def _field(self, tb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return self.f(tb[0], yb[0]).unsqueeze(0)

    def step(self, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
             y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f0 = self.f(t0, y0)
        if self._last_t is None or not bool(self._last_t == t0):
            self.history.appendleft(f0)
            self._last_t = t0
        k = min(len(self.history), self.max_order - 1)
        if k < self._MIN_ORDER - 1:
            res = self.rk4.step(self._field, t0.reshape(1), y0.unsqueeze(0), dt.reshape(1), f0.unsqueeze(0))
            return res.y[0], f0
        h = dt.to(y0.dtype)
        dy = h * sum(c * f for c, f in zip(self.ab[k], self.history, strict=False))
        if self.implicit:
            beta = self.am[k]
            known = h * sum(c * f for c, f in zip(beta[1:], self.history, strict=False))
            scale = self.atol + self.rtol * y0.abs()
            for _ in range(self.max_iters):
                dy_old = dy
                dy = h * beta[0] * self.f(t1, y0 + dy) + known
                if bool(((dy - dy_old).abs() / scale).max() < 1):
                    break
            else:
                warnings.warn("Adams–Moulton functional iteration did not converge; the solution may be "
                              "inaccurate (use a smaller step)", stacklevel=3)
        return y0 + dy, f0
