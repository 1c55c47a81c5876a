"""``odeint_adjoint``: torchdiffeq's signature, gradients from the continuous adjoint.

Chen, Rubanova, Bettencourt & Duvenaud, "Neural ordinary differential equations" (NeurIPS 2018, arXiv:1806.07366),
Algorithm 1: the forward solve keeps no graph; the backward pass integrates the augmented state
``(∂L/∂t, y, a = ∂L/∂y, ∂L/∂θ)`` with ``y' = f``, ``a' = -aᵀ ∂f/∂y``, ``(∂L/∂θ)' = -aᵀ ∂f/∂θ``,
``(∂L/∂t)' = -aᵀ ∂f/∂t`` from each output time to the previous one (by this shim's own :func:`odeint`, with
``adjoint_rtol``/``adjoint_atol``/``adjoint_method``/``adjoint_options``), jumping ``a += ∂L/∂y(t_k)`` and restarting
``y`` from the stored forward value at every output time. The error norm of the backward solve is the largest of
the norms of its parts; ``adjoint_options={"norm": "seminorm"}`` leaves ``∂L/∂θ`` out (Kidger, Chen & Lyons, "'Hey,
that's not an ODE': faster ODE adjoints via seminorms", ICML 2021, arXiv:2009.09457).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ._problem import CALLBACKS, Problem, flat_to_shape, mixed_norm, normalise
from ._solve import finish, methods, odeint, solve


def _adjoint_norm(option: Any, shapes: Any, y_shape: torch.Size,
                  state_norm: Callable[[torch.Tensor], Any]) -> Callable[..., Any]:
    """The error norm of the backward solve on the tuple ``(vjp_t, y, adj_y, *vjp_params)`` (``y``, ``adj_y`` flat;
    a user's norm gets them in the user's layout)."""
    if option is None or option == "seminorm":
        with_params = option is None

        def default(parts: tuple[torch.Tensor, ...]) -> Any:
            vjp_t, y, adj_y, *params = parts
            norms = [vjp_t.abs(), state_norm(y), state_norm(adj_y)]
            return max(torch.as_tensor(n) for n in [*norms, *([mixed_norm(params)] if with_params else [])])

        return default
    if not callable(option):
        raise InputTypeError(f"adjoint_options['norm'] must be 'seminorm' or callable, got {option!r}")
    if shapes is None:
        return lambda parts: option((parts[0], parts[1].reshape(y_shape), parts[2].reshape(y_shape), *parts[3:]))

    def unpacked(parts: tuple[torch.Tensor, ...]) -> Any:
        vjp_t, y, adj_y, *params = parts
        return option((vjp_t, *flat_to_shape(y, (), shapes), *flat_to_shape(adj_y, (), shapes), *params))

    return unpacked


def _scalar_tol(tol: Any) -> Any:
    """Per-entry (or per-component) tolerances of the state do not fit the augmented backward state: their
    smallest value is used there (pass adjoint_rtol/adjoint_atol to choose)."""
    if isinstance(tol, (tuple, list)):
        return min(float(torch.as_tensor(x).min()) for x in tol)
    if isinstance(tol, torch.Tensor) and tol.numel() > 1:
        return float(tol.min())
    return tol


class _Adjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, prob: Problem, back: dict[str, Any], t: torch.Tensor, y0: torch.Tensor,
                *params: torch.Tensor) -> Any:
        with torch.no_grad():
            out = solve(dataclasses.replace(prob, y0=y0, t=t))
        ctx.prob, ctx.back = prob, back
        ctx.event = prob.event_fn is not None
        if ctx.event:
            event_t, ys = out
            ctx.save_for_backward(t, ys, event_t, *params)
            return event_t, ys
        ctx.save_for_backward(t, out, *params)
        return out

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Any, ...]:
        prob, back = ctx.prob, ctx.back
        if ctx.event:
            t_in, ys, event_t, *params = ctx.saved_tensors
            t = torch.stack([t_in[0], event_t.to(t_in.dtype)])
            grad_ys = grads[1]
        else:
            t, ys, *params = ctx.saved_tensors
            grad_ys = grads[0]
        t_grad = ctx.needs_input_grad[2]
        func = prob.func
        params = tuple(params)

        def augmented(tt: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            y, adj = state[1], state[2]
            with torch.enable_grad():
                t_in = tt.detach().requires_grad_(t_grad)
                y_in = y.detach().requires_grad_(True)
                f = func(t_in, y_in)
                inputs = (t_in, y_in, *params) if t_grad else (y_in, *params)
                vjps = (torch.autograd.grad(f, inputs, -adj, allow_unused=True) if f.requires_grad
                        else (None,) * len(inputs))
            vjps = [torch.zeros_like(x) if g is None else g for g, x in zip(vjps, inputs, strict=True)]
            vjp_t = vjps.pop(0).to(y.dtype) if t_grad else state[0].new_zeros(())
            return (vjp_t, f.detach(), *vjps)

        for name in CALLBACKS:  # the user's callback_*_adjoint run on the backward solve's steps
            if hasattr(func.func, name + "_adjoint"):
                setattr(augmented, name, getattr(func.func, name + "_adjoint"))
        with torch.no_grad():
            aug = [ys.new_zeros(()), ys[-1], grad_ys[-1], *(torch.zeros_like(p) for p in params)]
            time_vjps = torch.zeros_like(t) if t_grad else None
            for i in range(t.numel() - 1, 0, -1):
                if t_grad:
                    d_t = (func(t[i], ys[i]) * grad_ys[i]).sum()
                    aug[0] = aug[0] - d_t
                    time_vjps[i] = d_t
                sol = odeint(augmented, tuple(aug), t[i - 1:i + 1].flip(0), rtol=back["rtol"], atol=back["atol"],
                             method=back["method"], options=back["options"])
                aug = [s[1] for s in sol]
                aug[1] = ys[i - 1]
                aug[2] = aug[2] + grad_ys[i - 1]
            if t_grad:
                time_vjps[0] = aug[0]
                if ctx.event:
                    time_vjps = torch.cat([time_vjps[:1], torch.zeros_like(t_in[1:])])
        return (None, None, time_vjps, aug[2], *aug[3:])


def odeint_adjoint(func: Callable[..., Any], y0: Any, t: torch.Tensor, *, rtol: Any = 1e-7, atol: Any = 1e-9,
                   method: str | None = None, options: dict[str, Any] | None = None,
                   event_fn: Callable[..., Any] | None = None, adjoint_rtol: Any = None, adjoint_atol: Any = None,
                   adjoint_method: str | None = None, adjoint_options: dict[str, Any] | None = None,
                   adjoint_params: Any = None) -> Any:
    """:func:`pysciml.compat.odeint` whose gradients come from the continuous adjoint (module docstring).

    ``adjoint_params`` are the tensors to differentiate (default: ``func.parameters()``; ``func`` must then be an
    ``nn.Module``; pass ``adjoint_params=()`` for none); those not requiring grad are skipped. ``adjoint_rtol``,
    ``adjoint_atol``, ``adjoint_method`` default to the forward ones, ``adjoint_options`` to ``options`` without
    ``norm`` (it must be given when ``adjoint_method`` differs and ``options`` are given);
    ``adjoint_options["norm"]`` may be ``"seminorm"`` or a callable on ``(vjp_t, y, adj_y, *vjp_params)``.
    """
    if adjoint_params is None and not isinstance(func, torch.nn.Module):
        raise ValidationError("func must be an nn.Module for odeint_adjoint to find its parameters; otherwise pass "
                              "adjoint_params=[...] (or adjoint_params=() when there are none)")
    if adjoint_method is not None and adjoint_method != method and options is not None and adjoint_options is None:
        raise ValidationError("adjoint_method differs from method, so adjoint_options cannot be inferred from options: "
                              "pass adjoint_options too")
    if adjoint_options is None:
        adjoint_options = {k: v for k, v in (options or {}).items() if k != "norm"}
    else:
        adjoint_options = dict(adjoint_options)
    params = tuple(func.parameters()) if adjoint_params is None else tuple(adjoint_params)
    if not all(isinstance(p, torch.Tensor) for p in params):
        raise InputTypeError("adjoint_params must be an iterable of tensors")
    params = tuple(p for p in params if p.requires_grad)
    prob = normalise(func, y0, t, rtol, atol, method, options, event_fn, methods())
    adjoint_options["norm"] = _adjoint_norm(adjoint_options.get("norm"), prob.shapes, prob.y_shape,
                                            prob.options["norm"])
    back = {"rtol": _scalar_tol(rtol if adjoint_rtol is None else adjoint_rtol),
            "atol": _scalar_tol(atol if adjoint_atol is None else adjoint_atol),
            "method": prob.method if adjoint_method is None else adjoint_method, "options": adjoint_options}
    out = _Adjoint.apply(prob, back, prob.t, prob.y0, *params)
    return finish(prob, out, t)
