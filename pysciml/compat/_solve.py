"""``odeint`` and ``odeint_event`` with torchdiffeq's signatures and behaviour (see :mod:`pysciml.compat`)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputTypeError, UnsupportedError, ValidationError
from ..integrators.registry import available_methods
from ._adaptive import ADAPTIVE_METHODS, AdaptiveRK
from ._events import EventGradient
from ._fixed import ADAMS_METHODS, RK_METHODS, Adams, FixedRK
from ._implicit import ImplicitRK
from ._other import EngineSolver, ScipySolver
from ._problem import FlatFunc, Problem, event_on_flat, flat_to_shape, normalise

#: torchdiffeq 0.2.5's method names, in its order
TORCHDIFFEQ_METHODS = ("dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun", "euler", "midpoint", "heun2",
                       "heun3", "rk4", "explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver")
#: implicit fixed-grid methods of torchdiffeq's development version (not in its 0.2.5 release)
IMPLICIT_METHODS = ("implicit_euler", "implicit_midpoint", "trapezoid", "radauIIA3", "radauIIA5", "gl4", "gl6",
                    "sdirk2", "trbdf2")


def methods() -> list[str]:
    """Every ``method`` the shim accepts: torchdiffeq's names, its development version's implicit methods, then
    pysciml's other methods (``tsit5``, the stiff
    Rosenbrock methods ``rosenbrock23``/``rodas4``/``rodas5p``, …), run on the whole state as one sample."""
    return [*TORCHDIFFEQ_METHODS, *IMPLICIT_METHODS,
            *(m for m in available_methods() if m not in TORCHDIFFEQ_METHODS)]


def make_solver(prob: Problem) -> Any:
    """The solver object for ``prob.method`` (consumes ``prob.options``); warns, as torchdiffeq does, about step
    callbacks on ``func`` that the method never calls."""
    if prob.method in ADAPTIVE_METHODS:
        solver: Any = AdaptiveRK(prob)
    elif prob.method in RK_METHODS:
        solver = FixedRK(prob)
    elif prob.method in ADAMS_METHODS:
        solver = Adams(prob)
    elif prob.method in (m.lower() for m in IMPLICIT_METHODS):
        solver = ImplicitRK(prob)
    elif prob.method == "scipy_solver":
        solver = ScipySolver(prob)
    else:
        solver = EngineSolver(prob)
    unused = sorted(set(prob.callbacks) - set(getattr(solver, "CALLBACKS", ())))
    if unused:
        warnings.warn(f"method {prob.method!r} does not call the callbacks {unused}", stacklevel=4)
    return solver


def solve(prob: Problem) -> Any:
    """Run a normalised problem: the flat solution ``[T, N]``, or ``(event_t, [2, N])`` with an event function
    (``event_t`` in the normalised, increasing time)."""
    solver = make_solver(dataclasses.replace(prob, options=dict(prob.options)))
    if prob.event_fn is None:
        return solver.integrate(prob.t)
    if not hasattr(solver, "integrate_until_event"):
        raise UnsupportedError(f"event_fn is supported by the adaptive Runge–Kutta, fixed-grid and Adams methods, "
                               f"not {prob.method!r}")
    return solver.integrate_until_event(prob.t[0], prob.event_fn)


def finish(prob: Problem, out: Any, t: torch.Tensor) -> Any:
    """Back to the user's conventions: shapes/tuples, and the event time in the user's time and dtype."""
    if prob.event_fn is None:
        return prob.unflatten(out)
    event_t, sol = out
    event_t = event_t.to(t.dtype)
    return (-event_t if prob.reverse else event_t), prob.unflatten(sol)


def odeint(func: Callable[..., Any], y0: Any, t: torch.Tensor, *, rtol: Any = 1e-7, atol: Any = 1e-9,
           method: str | None = None, options: dict[str, Any] | None = None,
           event_fn: Callable[..., Any] | None = None) -> Any:
    """Integrate ``dy/dt = func(t, y)``, ``y(t[0]) = y0``, torchdiffeq-style (differentiable by backpropagation).

    Args:
        func: ``func(t, y)``: ``t`` a 0-dim tensor in the state's dtype, ``y`` shaped like ``y0`` (or a tuple like
            it); returns ``dy/dt`` of the same shape(s).
        y0: the initial state, a tensor of any shape (0-dim included) or a tuple of tensors.
        t: ``[T]`` floating output times, strictly increasing or strictly decreasing (backwards in time); ``t[0]``
            is the initial time; ``T = 1`` returns ``y0`` alone.
        rtol, atol: tolerances (floats, tensors with one entry per state entry, or tuples per tuple component).
        method: ``dopri5`` (default), any name of :func:`methods`.
        options: method options, as torchdiffeq's (README "Coming from torchdiffeq" lists them).
        event_fn: ``event_fn(t, y)`` -> tensor; integrate from ``t[0]`` until it changes sign (``t[1]`` ignored).

    Returns:
        ``[T, *y0.shape]`` (time first; a tuple of those for a tuple state); with ``event_fn``,
        ``(event_t, solution)`` where ``solution`` holds ``y0`` and the state at ``event_t``.
    """
    prob = normalise(func, y0, t, rtol, atol, method, options, event_fn, methods())
    return finish(prob, solve(prob), t)


def odeint_dense(func: Callable[..., Any], y0: torch.Tensor, t0: Any, t1: Any, *, rtol: Any = 1e-7,
                 atol: Any = 1e-9, method: str | None = None,
                 options: dict[str, Any] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Solve from ``t0`` to ``t1`` and return the dense output ``y(t_eval)`` as a function, torchdiffeq-style.

    ``y0`` must be a tensor and ``method`` adaptive (``dopri5`` by default); the function takes times
    ``t_eval [*E]`` inside ``[t0, t1]`` and returns ``[*E, *y0.shape]``, evaluating the interpolant of the step
    that holds each time.
    """
    if not isinstance(y0, torch.Tensor):
        raise UnsupportedError("odeint_dense needs a tensor y0 (tuples are not supported, as in torchdiffeq)")
    t_ref = t0 if isinstance(t0, torch.Tensor) else torch.as_tensor(t0, dtype=torch.float64)
    t = torch.stack([torch.as_tensor(t0), torch.as_tensor(t1)]).to(t_ref.dtype if t_ref.is_floating_point()
                                                                    else torch.float64)
    prob = normalise(func, y0, t, rtol, atol, method, options, None, methods())
    if prob.method not in ADAPTIVE_METHODS:
        raise UnsupportedError(f"odeint_dense needs an adaptive method ({', '.join(ADAPTIVE_METHODS)}), "
                               f"got {prob.method!r}")
    solver = AdaptiveRK(prob)
    ends, steps = solver.dense(prob.t[0], prob.t[1])

    def dense_output(t_eval: torch.Tensor) -> torch.Tensor:
        tt = torch.as_tensor(t_eval, dtype=ends.dtype, device=ends.device)
        tt = -tt if prob.reverse else tt
        if bool((tt < ends[0]).any()) or bool((tt > ends[-1]).any()):
            raise ValidationError(f"dense output asked outside the solved interval [{t0}, {t1}]")
        idx = (torch.searchsorted(ends, tt.reshape(-1).detach(), right=True) - 1).clamp(0, len(steps) - 1)
        vals = [solver.interpolate(tk, steps[int(i)])[0] for tk, i in zip(tt.reshape(-1), idx, strict=True)]
        return torch.stack(vals).reshape(*tt.shape, *prob.y_shape) if vals else y0.new_empty(0, *y0.shape)

    return dense_output


def odeint_event(func: Callable[..., Any], y0: Any, t0: torch.Tensor, *, event_fn: Callable[..., Any],
                 reverse_time: bool = False, odeint_interface: Callable[..., Any] = odeint,
                 **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """Solve from ``t0`` until ``event_fn(t, y) = 0``; returns ``(event_t, solution)`` as torchdiffeq does.

    Gradients reach ``event_t`` through the implicit function theorem (:class:`._events.EventGradient`): a loss on
    ``event_t`` and on the final state differentiates with respect to ``y0`` and the parameters of ``func``.
    ``reverse_time`` integrates backwards; ``odeint_interface`` may be :func:`odeint` or
    :func:`pysciml.compat.odeint_adjoint`; ``kwargs`` go to it (``rtol``, ``atol``, ``method``, ``options``).
    """
    if not isinstance(t0, torch.Tensor):
        raise InputTypeError(f"t0 must be a tensor, got {type(t0).__name__}")
    step = -1.0 if reverse_time else 1.0
    t = torch.cat([t0.reshape(-1), t0.reshape(-1).detach() + step])
    event_t, solution = odeint_interface(func, y0, t, event_fn=event_fn, **kwargs)
    is_tuple = isinstance(y0, (tuple, list))
    shapes = [p.shape for p in y0] if is_tuple else None
    y_shape = y0.shape if shapes is None else torch.Size([-1])
    flat_f = FlatFunc(func, shapes, False, y_shape)
    y_flat = torch.cat([p.reshape(-1) for p in y0]) if is_tuple else y0.reshape(-1)
    flat_event = event_on_flat(event_fn, shapes, False, y_shape, t0.reshape(-1)[0], y_flat.detach())

    state = torch.cat([s[-1].reshape(-1) for s in solution]) if is_tuple else solution[-1].reshape(-1)
    event_t, state = EventGradient.apply(flat_f, flat_event, event_t, state)
    if is_tuple:
        ends = flat_to_shape(state, (), shapes)
        return event_t, tuple(torch.cat([s[:-1], e[None]]) for s, e in zip(solution, ends, strict=True))
    return event_t, torch.cat([solution[:-1], state.reshape(solution.shape[1:])[None]])
