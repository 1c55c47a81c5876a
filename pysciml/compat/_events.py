"""Terminal events: locating the root of ``event_fn`` in a step, and the gradient through the event time.

``event_fn(t, y)`` is made one scalar that starts positive (see :func:`._problem.event_on_flat`); the solvers step
until it changes sign and :func:`find_event` bisects the step's dense output. :class:`EventGradient` links the
event time to the state by the implicit function theorem: at the event ``g(t_e, y(t_e; θ)) = 0``, so
``dt_e/dθ = -(∂g/∂y · ∂y/∂θ) / (∂g/∂t + ∂g/∂y · f(t_e, y_e))``; a loss on ``(t_e, y(t_e))`` therefore sends
``∂L/∂y_e + (∂L/∂t_e + ∂L/∂y_e · f) · (-∂g/∂y / (dg/dt))`` back into the solve that produced ``y_e``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch


def find_event(interp: Callable[[torch.Tensor], torch.Tensor], sign0: torch.Tensor, t0: torch.Tensor,
               t1: torch.Tensor, event_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               tol: float) -> torch.Tensor:
    """The time in ``[t0, t1]`` where ``event_fn(t, interp(t))`` changes sign from ``sign0``, by bisection to
    ``tol`` (the event time is known to within ``tol``: ``ceil(log2((t1 - t0)/tol))`` halvings)."""
    with torch.no_grad():
        lo, hi = t0.detach(), t1.detach()
        width = float(hi - lo)
        tol = max(tol, 4 * torch.finfo(lo.dtype).eps * max(abs(float(hi)), 1.0))
        for _ in range(max(0, math.ceil(math.log2(width / tol))) if width > 0 else 0):
            mid = (lo + hi) / 2
            same = torch.sign(event_fn(mid, interp(mid))) == sign0
            lo, hi = torch.where(same, mid, lo), torch.where(same, hi, mid)
    return (lo + hi) / 2


class EventGradient(torch.autograd.Function):
    """Identity on ``(event_t, state_t)`` whose backward adds the event-time sensitivity to the state (module
    docstring). ``func(t, y)`` and ``event_fn(t, y)`` act on the flat state ``state_t [N]``."""

    @staticmethod
    def forward(ctx: Any, func: Any, event_fn: Any, event_t: torch.Tensor,
                state_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.func, ctx.event_fn = func, event_fn
        ctx.save_for_backward(event_t, state_t)
        return event_t.detach().clone(), state_t.detach().clone()

    @staticmethod
    def backward(ctx: Any, grad_t: torch.Tensor, grad_state: torch.Tensor) -> tuple[Any, ...]:
        event_t, state_t = ctx.saved_tensors
        with torch.enable_grad():
            t = event_t.detach().requires_grad_(True)
            y = state_t.detach().requires_grad_(True)
            g = ctx.event_fn(t, y)
            dg_dt, dg_dy = torch.autograd.grad(g, (t, y), allow_unused=True)
        dg_dt = torch.zeros_like(t) if dg_dt is None else dg_dt
        dg_dy = torch.zeros_like(y) if dg_dy is None else dg_dy
        with torch.no_grad():
            f = ctx.func(event_t.detach(), state_t.detach())
            total = dg_dt + (dg_dy * f).sum()  # dg/dt along the solution
            through_t = grad_t + (grad_state * f).sum()  # the loss' sensitivity to moving the event time
            grad_state = grad_state - dg_dy * (through_t / total).to(dg_dy.dtype)
        return None, None, None, grad_state
