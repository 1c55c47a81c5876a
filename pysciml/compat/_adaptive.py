"""Adaptive explicit Runge–Kutta solving with torchdiffeq's options and step control, on pysciml's steppers.

One step is :meth:`pysciml.integrators.explicit.ExplicitRK.step` on a batch of one (the whole flat state is one
sample, so the error control is batch-wide, as in torchdiffeq); dense output is the stepper's interpolant (the
tableau's continuous extension or quartic through the midpoint). Step control is torchdiffeq's: the I controller
``factor = safety · ratio^{-1/k}`` clipped to ``[dfactor, ifactor]``, never shrinking after an accepted step, the
step clipped to ``[min_step, max_step]`` (a step at ``min_step`` is always accepted), steps landing on ``step_t``
and ``jump_t`` (after a jump ``f`` is re-evaluated just past it), the starting step of Hairer, Nørsett & Wanner
(*Solving ODEs I*, §II.4) unless ``first_step`` is given, at most ``max_num_steps`` attempted steps per output
interval.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ..integrators.controller import PIController, error_ratio, initial_step
from ..integrators.explicit import TABLEAUX, ExplicitRK
from ..validation import check_positive_int
from ._errors import SolveFailedError
from ._events import find_event
from ._problem import Problem, pop_options

#: torchdiffeq name -> pysciml tableau (tsit5 is a pysciml extra)
ADAPTIVE_METHODS = {"dopri8": "dopri8", "dopri5": "dopri5", "bosh3": "bosh3", "fehlberg2": "fehlberg2",
                    "adaptive_heun": "adaptive_heun", "tsit5": "tsit5"}

_OPTIONS: dict[str, Any] = {"first_step": None, "min_step": 0.0, "max_step": math.inf, "safety": 0.9, "ifactor": 10.0,
                            "dfactor": 0.2, "max_num_steps": 2**31 - 1, "step_t": None, "jump_t": None,
                            "dtype": torch.float64}


def _check_options(opts: dict[str, Any]) -> None:
    """The numeric step-control options must be numbers in their ranges."""
    ranges = {"safety": (0.0, 1.0), "dfactor": (0.0, 1.0), "ifactor": (1.0, math.inf), "min_step": (0.0, math.inf),
              "max_step": (0.0, math.inf)}
    for key, (low, high) in ranges.items():
        try:
            value = float(opts[key])
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"options[{key!r}] must be a number, got {opts[key]!r}") from exc
        if not low <= value <= high or (key in ("safety", "dfactor", "max_step") and value == 0):
            raise ValidationError(f"options[{key!r}] = {value} is outside its range [{low}, {high}]"
                                  + (" (and must be > 0)" if key in ("safety", "dfactor", "max_step") else ""))
    if float(opts["min_step"]) > float(opts["max_step"]):
        raise ValidationError("options['min_step'] must not exceed options['max_step']")
    if opts["first_step"] is not None and not float(opts["first_step"]) > 0:
        raise ValidationError(f"options['first_step'] must be > 0, got {opts['first_step']!r}")
    if not (isinstance(opts["dtype"], torch.dtype) and opts["dtype"].is_floating_point):
        raise InputTypeError(f"options['dtype'] must be a floating torch.dtype, got {opts['dtype']!r}")


def _sorted_after(values: Any, t0: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(values, torch.Tensor):
        values = torch.as_tensor(values)
    values = values.detach().to(t0.device, dtype).reshape(-1)
    return torch.sort(values[values >= t0]).values


class AdaptiveRK:
    """torchdiffeq's ``RKAdaptiveStepsizeODESolver`` behaviour on a pysciml tableau (see the module docstring)."""

    #: the step callbacks this solver calls
    CALLBACKS = ("callback_step", "callback_accept_step", "callback_reject_step")

    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        self.func = prob.func
        self.y0 = prob.y0.unsqueeze(0)  # [1, N]: one sample
        norm = prob.options["norm"]
        opts = pop_options(prob.options, _OPTIONS, prob.method)
        self.stepper = ExplicitRK(TABLEAUX[ADAPTIVE_METHODS[prob.method]])
        real = self.y0.real.dtype if self.y0.is_complex() else self.y0.dtype
        self.time_dtype = torch.promote_types(opts["dtype"], real)
        self.rtol, self.atol = prob.rtol, prob.atol
        self.norm = lambda x: torch.as_tensor(norm(x[0])).reshape(1)
        _check_options(opts)
        k = min(self.stepper.order, self.stepper.error_order or self.stepper.order) + 1
        self.ctrl = PIController(order=k, safety=float(opts["safety"]), min_factor=float(opts["dfactor"]),
                                 max_factor=float(opts["ifactor"]), first_max_factor=float(opts["ifactor"]))
        self.min_step = float(opts["min_step"])
        self.max_step = float(opts["max_step"])
        self.first_step = opts["first_step"]
        self.max_num_steps = check_positive_int(opts["max_num_steps"], "options['max_num_steps']")
        self.step_t, self.jump_t = opts["step_t"], opts["jump_t"]
        self._jump_end: torch.Tensor | None = None
        self.steps: list[tuple[Any, ...]] | None = None  # every accepted step, when recording (dense output)

    # -- the field the stepper sees: [1] times, [1, N] states ------------------------------------------------
    def _field(self, tb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        perturb = 0
        if self._jump_end is not None and bool(torch.isclose(tb[0], self._jump_end, rtol=1e-12, atol=0.0)):
            perturb = -1  # the stage at the end of a step onto a jump sees f just before it
        return self.func(tb[0], yb[0], perturb).unsqueeze(0)

    def _start(self, t0: torch.Tensor) -> None:
        t0 = t0.to(self.time_dtype).reshape(1)  # keeps its graph: outputs move with t[0]
        self.t = t0
        self.y = self.y0
        self.f = self._field(t0, self.y0)
        if self.first_step is None:
            dt = initial_step(self._field, t0, self.y0, self.f, self.stepper.order - 1, self.rtol, self.atol)
        else:
            dt = torch.full((1,), float(self.first_step), dtype=self.time_dtype, device=t0.device)
        self.dt = dt.to(self.time_dtype)
        self.prev_ratio = torch.ones(1, dtype=self.time_dtype, device=t0.device)
        self.last: tuple[Any, ...] | None = None
        empty = torch.empty(0, dtype=self.time_dtype, device=t0.device)
        self._steps = empty if self.step_t is None else _sorted_after(self.step_t, t0[0], self.time_dtype)
        self._jumps = empty if self.jump_t is None else _sorted_after(self.jump_t, t0[0], self.time_dtype)
        if torch.cat([self._steps, self._jumps]).unique().numel() != self._steps.numel() + self._jumps.numel():
            raise SolveFailedError("step_t and jump_t must not share (or repeat) any time")
        self.n_steps = 0

    def _next_mark(self, marks: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor) -> torch.Tensor | None:
        inside = marks[(marks > t0) & (marks < t1)]
        return inside[0] if inside.numel() else None

    def _step(self) -> None:
        """One attempted step from ``(self.t, self.y)``; on acceptance the state and the dense output move on."""
        if self.n_steps >= self.max_num_steps:
            raise SolveFailedError(f"max_num_steps exceeded ({self.max_num_steps} steps in one output interval); "
                                   "raise options['max_num_steps'] or loosen rtol/atol")
        self.n_steps += 1
        t0, y0, f0 = self.t, self.y, self.f
        dt = self.dt.clamp(self.min_step, self.max_step)
        if not bool(torch.isfinite(dt).all()):
            dt = torch.full_like(dt, self.min_step)
        if not bool((t0 + dt > t0).all()):
            raise SolveFailedError(f"underflow in dt {dt.item():.3e} at t={t0.item():.6g}: the step size became "
                                   "too small (a stiff or singular problem?); try a stiff pysciml method "
                                   "(e.g. method='rodas5p') or looser tolerances")
        if not bool(torch.isfinite(y0).all()):
            raise SolveFailedError(f"non-finite values in the state y at t={t0.item():.6g}")
        t1 = t0 + dt
        mark = self._next_mark(self._steps, t0[0], t1[0])
        if mark is not None:
            t1 = mark.reshape(1)
        jump = self._next_mark(self._jumps, t0[0], t1[0])
        if jump is not None:
            t1 = jump.reshape(1)
        dt = t1 - t0
        self.prob.callback("callback_step", t0[0], y0[0], dt[0])
        self._jump_end = None if jump is None else t1[0].to(y0.dtype)
        res = self.stepper.step(self._field, t0, y0, dt, f0)
        self._jump_end = None
        with torch.no_grad():
            ratio = error_ratio(res.error, y0, res.y, self.rtol, self.atol, self.norm).to(self.time_dtype)
            accept = bool(ratio.item() <= 1.0) or float(dt) <= self.min_step
            factor = self.ctrl.factor(ratio, self.prev_ratio, torch.full_like(ratio, accept, dtype=torch.bool))
            if accept:
                factor = factor.clamp_min(1.0)  # torchdiffeq never shrinks the step after an accepted one
        self.dt = (dt * factor).clamp(self.min_step, self.max_step)
        self.prob.callback("callback_accept_step" if accept else "callback_reject_step", t0[0], y0[0], dt[0])
        if not accept:
            return
        y1 = res.y
        if jump is not None:  # f changes at the jump: restart from its right-hand side
            f1 = self.func(t1[0], y1[0], 1).unsqueeze(0)
        elif self.stepper.fsal:
            f1 = res.f_end
        else:
            f1 = self._field(t1, y1)
        self.last = (t0, dt, y0, y1, f0, f1, res.interp)
        if self.steps is not None:
            self.steps.append(self.last)
        self.t, self.y, self.f = t1, y1, f1
        self.prev_ratio = ratio

    def interpolate(self, t: torch.Tensor, step: tuple[Any, ...] | None = None) -> torch.Tensor:
        """Dense output ``[1, N]`` at ``t`` inside ``step`` (default: the last accepted step)."""
        t0, dt, y0, y1, f0, f1, interp = self.last if step is None else step
        t = t.to(self.time_dtype).reshape(1)
        if bool((t == t0 + dt).all()) and not t.requires_grad:
            return y1
        theta = (t - t0) / dt
        return self.stepper.interpolate(theta, dt, y0, y1, f0, f1, interp)

    def integrate(self, t: torch.Tensor) -> torch.Tensor:
        """Solution ``[T, N]`` at the increasing times ``t``."""
        self._start(t[0])
        out = [self.y0[0]]
        for t_k in t[1:]:
            target = t_k.to(self.time_dtype)
            self.n_steps = 0  # max_num_steps counts per output interval, as in torchdiffeq
            while bool(target > self.t[0]):
                self._step()
            out.append(self.interpolate(target)[0])
        return torch.stack(out)

    def dense(self, t0: torch.Tensor, t1: torch.Tensor) -> tuple[torch.Tensor, list[tuple[Any, ...]]]:
        """Solve from ``t0`` to ``t1`` keeping every accepted step: ``(step ends [n + 1], steps)`` for
        :meth:`interpolate`."""
        self.steps = []
        self.integrate(torch.stack([t0, t1]))
        ends = torch.stack([self.steps[0][0][0].detach()] + [(s[0] + s[1])[0].detach() for s in self.steps])
        return ends, self.steps

    def integrate_until_event(self, t0: torch.Tensor, event_fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(event_t, [y0, y(event_t)])``: step until ``event_fn`` changes sign, then bisect the dense output."""
        self._start(t0)
        with torch.no_grad():
            g0 = event_fn(self.t[0], self.y[0])
        if bool(g0 == 0):
            return self.t[0], torch.stack([self.y0[0], self.y[0]])
        sign0 = torch.sign(g0)
        while True:
            self._step()
            if self.last is not None:
                with torch.no_grad():
                    if bool(torch.sign(event_fn(self.t[0], self.y[0])) != sign0):
                        break
        t_lo, dt = self.last[0], self.last[1]
        tol = float(self.atol.min()) if isinstance(self.atol, torch.Tensor) else float(self.atol)
        event_t = find_event(lambda tt: self.interpolate(tt)[0], sign0, t_lo[0], (t_lo + dt)[0], event_fn, tol)
        return event_t, torch.stack([self.y0[0], self.interpolate(event_t)[0]])
