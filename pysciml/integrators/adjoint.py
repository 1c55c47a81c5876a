"""Continuous adjoint sensitivities (Chen et al., "Neural ordinary differential equations", NeurIPS 2018,
§2 and Appendix B, Algorithm 1) run by the same engine.

For ``y' = f(t, y, θ)`` and a loss ``L(y(t_0), …, y(t_N))`` the adjoint ``a = ∂L/∂y`` obeys
``a' = -aᵀ ∂f/∂y`` and the parameter gradient ``dL/dθ = ∫ aᵀ ∂f/∂θ dt``, integrated backwards from
``t_N`` to ``t_0`` with jumps ``a += ∂L/∂y(t_k)`` at the output times. Output-time gradients are
``dL/dt_k = ⟨∂L/∂y(t_k), f(t_k, y_k)⟩`` for ``k ≥ 1`` and
``dL/dt_0 = -⟨a(t_0⁺), f(t_0, y_0)⟩`` (before the jump of ``y(t_0) = y0``).

The backward pass integrates the augmented state ``[y, a, g_θ]`` of the whole batch as one sample (in
reversed time ``s = -t``), with its own tolerances (``adjoint_rtol``/``adjoint_atol``) and optionally
the *seminorm* of Kidger, Chen & Lyons, "Hey, that's not an ODE" (ICML 2021): the parameter components
``g_θ`` are left out of the error norm. Per-sample output times ``[B, T]`` are therefore not supported
with ``adjoint=True`` (the forward solve still steps every sample on its own).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from .controller import rms_norm
from .engine import EngineConfig, integrate
from .fields import VectorField
from .registry import make_stepper
from .solution import ODESolution
from .stepper import Stepper


def _params_of(field: VectorField, given: Any, y0: torch.Tensor, t0: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Tensors to differentiate in the backward pass: ``adjoint_params``, else the parameters of ``f`` when it
    is an ``nn.Module`` (for a :class:`~.split.SplitField`: the linear part's tensors and the parameters of
    ``N``). A field that closes over other tensors requiring grad is an error (they would get no gradient).
    """
    from .split import SplitField

    if given is not None:
        params = tuple(given)
        if not all(isinstance(p, torch.Tensor) for p in params):
            raise InputTypeError("adjoint_params must be an iterable of tensors")
        return tuple(p for p in params if p.requires_grad)
    found: list[torch.Tensor] = []
    if isinstance(field, SplitField):
        found += field.linear.tensors()
        f: Any = field.nonlinear
    else:
        f = field.f
        while isinstance(f, VectorField):
            f = f.f
    if isinstance(f, torch.nn.Module):
        found += f.parameters()
    elif torch.is_grad_enabled() and bool(f(t0[:1].to(y0.dtype).detach(), y0[:1].detach()).requires_grad):
        raise ValidationError("f depends on tensors that require grad but is not an nn.Module: pass them as "
                              "adjoint_params=[...] so that the adjoint computes their gradients")
    return tuple(p for p in found if p.requires_grad)


def _healthy_rows(status: torch.Tensor, grad_ys: torch.Tensor) -> torch.Tensor | None:
    """``None`` when every row succeeded; else the mask of the rows that did. A failed row the loss uses (a
    non-zero or non-finite cotangent anywhere) has no gradient: that is an error naming the row."""
    failed = status != 0
    if not bool(failed.any()):
        return None
    flat = grad_ys.detach().reshape(grad_ys.shape[0], -1)
    used = (flat != 0).any(dim=1)  # NaN != 0 is True: a NaN cotangent counts as used
    bad = (failed & used).nonzero().flatten().tolist()
    if bad:
        raise ValidationError(f"adjoint=True: the loss depends on sample(s) {bad[:10]} whose forward solve failed "
                              f"(status {[int(status[i]) for i in bad[:10]]}); their gradient does not exist. "
                              "Mask failed samples out of the loss (sol.success) or fix the solve")
    return ~failed


class _Adjoint(torch.autograd.Function):
    """``ys = solve(y0, ts)`` forward without a graph; the backward pass solves the adjoint system."""

    @staticmethod
    def forward(ctx: Any, holder: dict[str, Any], y0: torch.Tensor, ts: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            sol = integrate(holder["stepper"], holder["field"], y0, ts, holder["config"])
        holder["solution"] = sol
        ctx.holder = holder
        ctx.save_for_backward(ts, sol.ys, *params)
        return sol.ys

    @staticmethod
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        holder = ctx.holder
        ts, ys, *params = ctx.saved_tensors
        keep = _healthy_rows(holder["solution"].status, grad_ys)
        if keep is None:
            return _Adjoint._backward(ctx, holder, ts, ys, params, grad_ys)
        # rows that failed get a zero cotangent (the loss does not use them): adjoint of the healthy rows only
        batch = ys.shape[0]
        grads = _Adjoint._backward(ctx, holder, ts, ys[keep], params, grad_ys[keep])
        grad_y0 = grad_ys.new_zeros(batch, *ys.shape[2:])
        grad_y0[keep] = grads[1]
        grad_ts = None if grads[2] is None else grads[2][:1].expand(batch, -1) * (int(keep.sum()) / batch)
        return (None, grad_y0, grad_ts, *grads[3:])

    @staticmethod
    def _backward(ctx: Any, holder: dict[str, Any], ts: torch.Tensor, ys: torch.Tensor, params: list[torch.Tensor],
                  grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        field: VectorField = holder["field"]
        batch, n_t = ys.shape[:2]
        if batch == 0:  # every row failed and none is used by the loss
            return (None, ys[:, 0].clone(), torch.zeros_like(ts[:1]) if ctx.needs_input_grad[2] else None,
                    *(torch.zeros_like(p) for p in params))
        state = ys.shape[2:]
        n_y = ys[0, 0].numel() * batch
        sizes = [n_y, n_y] + [p.numel() for p in params]

        def f_eval(t_scalar: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return field(t_scalar.to(y.dtype).expand(batch), y)

        def augmented(s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            parts = torch.split(z[0], sizes)
            y = parts[0].reshape(batch, *state)
            a = parts[1].reshape(batch, *state)
            with torch.enable_grad():
                y_in = y.detach().requires_grad_(True)
                fy = f_eval(-s[0], y_in)
                # a field that depends on neither y nor the parameters (e.g. f(t)) has no graph: zero VJPs
                grads = (torch.autograd.grad(fy, (y_in, *params), grad_outputs=a, allow_unused=True)
                         if fy.requires_grad else (None,) * (1 + len(params)))
            grads = [torch.zeros_like(x) if g is None else g
                     for g, x in zip(grads, (y_in, *params), strict=True)]
            return torch.cat([(-fy.detach()).reshape(-1)] + [g.reshape(-1) for g in grads]).unsqueeze(0)

        cfg: EngineConfig = holder["adjoint_config"]
        stepper: Stepper = holder["adjoint_stepper"]
        aug_field = VectorField(augmented)
        t_row = ts[0]
        a = grad_ys[:, -1]
        g_params = [torch.zeros_like(p) for p in params]
        grad_t = torch.zeros_like(t_row)
        with torch.no_grad():
            for k in range(n_t - 1, 0, -1):
                if k < n_t - 1:
                    a = a + grad_ys[:, k]
                grad_t[k] = (grad_ys[:, k] * f_eval(t_row[k], ys[:, k])).sum().to(grad_t.dtype)
                z0 = torch.cat([ys[:, k].reshape(-1), a.reshape(-1)] + [g.reshape(-1) for g in g_params])
                s_span = torch.stack([-t_row[k], -t_row[k - 1]]).unsqueeze(0)
                sol = integrate(stepper, aug_field, z0.unsqueeze(0), s_span, cfg)
                if not bool(sol.success.all()):
                    raise ValidationError("the adjoint solve failed (status "
                                          f"{int(sol.status[0])}); loosen adjoint_rtol/adjoint_atol or raise "
                                          "max_steps")
                parts = torch.split(sol.ys[0, -1], sizes)
                a = parts[1].reshape(batch, *state)
                g_params = [g.reshape(p.shape) for g, p in zip(parts[2:], params, strict=True)]
            # before the jump ∂L/∂y(t_0): the output y(t_0) = y0 does not move with t_0
            grad_t[0] = -(a * f_eval(t_row[0], ys[:, 0])).sum().to(grad_t.dtype)
            a = a + grad_ys[:, 0]
        grad_ts = grad_t.unsqueeze(0).expand(batch, n_t) / batch if ctx.needs_input_grad[2] else None
        return (None, a, grad_ts, *g_params)


def adjoint_solve(stepper: Stepper, field: VectorField, run_field: VectorField, y0: torch.Tensor,
                  ts: torch.Tensor, config: EngineConfig, method: str, method_options: dict[str, Any],
                  adjoint_opts: dict[str, Any], backwards: bool) -> ODESolution:
    """Forward solve whose gradients (``y0``, ``ts``, parameters) come from the continuous adjoint.

    ``ts [B, T]`` must be the same for every sample. Options: ``adjoint_rtol``/``adjoint_atol`` (default:
    the forward tolerances), ``adjoint_seminorm`` (bool), ``adjoint_params`` (tensors; default the
    parameters of ``f`` when it is an ``nn.Module``), ``adjoint_method`` (default: the forward method).
    """
    if ts.shape[0] > 1 and not bool((ts == ts[:1]).all()):
        raise ValidationError("adjoint=True needs output times shared by all samples (t of shape [time]); "
                              "use adjoint=False for per-sample times")
    params = _params_of(field, adjoint_opts.get("adjoint_params"), y0, ts[:, 0])
    adj_stepper = make_stepper(adjoint_opts.get("adjoint_method", method), **method_options)
    n_y = y0[0].numel() * y0.shape[0]

    def seminorm(x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x[:, : 2 * n_y])

    def scalar_tol(tol: Any) -> float:
        return float(tol.min()) if isinstance(tol, torch.Tensor) else float(tol)

    adj_config = EngineConfig(
        rtol=float(adjoint_opts.get("adjoint_rtol", scalar_tol(config.rtol))),
        atol=float(adjoint_opts.get("adjoint_atol", scalar_tol(config.atol))),
        step_size=config.step_size, first_step=None, controller=config.controller,
        max_steps=config.max_steps, dt_min=config.dt_min,
        norm=seminorm if adjoint_opts.get("adjoint_seminorm", False) else rms_norm)
    holder: dict[str, Any] = {"stepper": stepper, "field": run_field, "config": config,
                              "adjoint_stepper": adj_stepper, "adjoint_config": adj_config}
    ys = _Adjoint.apply(holder, y0, ts, *params)
    sol: ODESolution = holder["solution"]
    sol.ys = ys
    sol.ts = ts
    return sol
