"""The single time-stepping engine: per-sample adaptive or fixed steps for any :class:`Stepper`.

Every sample of the batch has its own time, step size, accept/reject decision, statistics and
termination (the approach of torchode, Lienen & Günnemann 2022). Each loop iteration steps only the
*active* samples (an index subset), so a fast or stiff sample never forces small steps on the others and
finished samples stop costing evaluations. Adaptive mode (the stepper has an embedded error estimate and
no ``step_size`` is given) uses the PI controller of :mod:`.controller` and dense output at the requested
times; fixed mode takes steps of ``step_size``, shortened to land exactly on each requested time.

All tensors are batch first: ``y [B, *S]`` in the data dtype, times ``[B, T]`` in the time dtype.
Gradients flow through the steps (discretise-then-optimise); step sizes are treated as constants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.utils.checkpoint

from ..status import Status
from .controller import PIController, error_ratio, initial_step, rms_norm
from .solution import ODESolution
from .stepper import Stepper

_HIT_RTOL = 1e-3  # a step ending within this fraction of dt short of its target is stretched onto it


@dataclasses.dataclass
class EngineConfig:
    """Engine settings (validated by :func:`pysciml.odeint`).

    Attributes:
        rtol, atol: floats or tensors broadcastable to ``[B, *S]``.
        step_size: fixed step (time units), or ``None`` for adaptive stepping.
        first_step: initial adaptive step, or ``None`` for Hairer's selection.
        controller: the PI controller.
        max_steps: attempted steps (accepted + rejected) per sample before ``Status.MAX_STEPS``.
        dt_min: smallest adaptive step before ``Status.STEP_SIZE_TOO_SMALL``.
        norm: per-sample error norm ``[B, *S] -> [B]`` (RMS; a seminorm for the adjoint).
        checkpoint: recompute each step's internals (stages, activations of ``f``) in the backward pass
            instead of storing them (``torch.utils.checkpoint``): backpropagation memory then grows with the
            number of steps times the state size only, at the price of one extra forward pass per step.
    """

    rtol: Any = 1e-7
    atol: Any = 1e-9
    step_size: float | None = None
    first_step: float | None = None
    controller: PIController = dataclasses.field(default_factory=lambda: PIController(order=5))
    max_steps: int = 10_000
    dt_min: float = 0.0
    norm: Callable[[torch.Tensor], torch.Tensor] = rms_norm
    checkpoint: bool = False


def _take(x: Any, rows: torch.Tensor | None) -> Any:
    """Index the batch dim of a tensor / tuple of tensors (floats and ``None`` pass; ``rows=None``: all)."""
    if x is None or rows is None or isinstance(x, float):
        return x
    if isinstance(x, torch.Tensor):
        return x.index_select(0, rows)
    if isinstance(x, (tuple, list)):
        return type(x)(_take(v, rows) for v in x)
    raise TypeError(f"stepper interp data of type {type(x).__name__} cannot be indexed by sample")


def _tol(tol: Any, batch: int, state: torch.Size) -> Any:
    """Tolerance as a float or a ``[B, *S]`` tensor (so that it can be indexed per sample)."""
    if isinstance(tol, torch.Tensor):
        return torch.broadcast_to(tol, (batch, *state))
    return float(tol)


def integrate(stepper: Stepper, field: Any, y0: torch.Tensor, ts: torch.Tensor,
              config: EngineConfig) -> ODESolution:
    """Solve ``y' = field(t, y)`` from ``y0 [B, *S]`` at times ``ts [B, T]`` (increasing rows).

    ``field(t, y)`` is called with ``t [B']`` in ``y``'s dtype for the ``B'`` active samples.
    Returns an :class:`ODESolution` with ``ys [B, T, *S]`` (NaN after a failure), stats and status.
    """
    batch, n_t = ts.shape
    state = y0.shape[1:]
    bshape = (-1,) + (1,) * len(state)
    dev = y0.device
    adaptive = config.step_size is None
    ctrl = config.controller
    rtol = _tol(config.rtol, batch, state)
    atol = _tol(config.atol, batch, state)

    zeros = torch.zeros(batch, dtype=torch.long, device=dev)
    n_f, n_acc, n_rej, status = zeros.clone(), zeros.clone(), zeros.clone(), zeros.clone()
    active = torch.ones(batch, dtype=torch.bool, device=dev)
    next_idx = torch.ones(batch, dtype=torch.long, device=dev)
    all_rows = torch.arange(batch, device=dev)
    # Outputs: values without a graph are written straight into the result (no concatenation, half the peak
    # memory for large ensembles); values that carry gradients are collected and placed out of place at the end.
    flat = y0.new_full((batch * n_t, *state), float("nan"))
    out_rows: list[torch.Tensor] = []
    out_vals: list[torch.Tensor] = []

    def record(rows_flat: torch.Tensor, vals: torch.Tensor) -> None:
        if vals.requires_grad:
            out_rows.append(rows_flat)
            out_vals.append(vals)
        else:
            flat.index_copy_(0, rows_flat, vals)

    record(all_rows * n_t, y0)
    calls = 0

    t_cur = ts[:, 0]
    t_end = ts[:, -1]
    y = y0
    f0 = stepper.init(field, t_cur, y)
    if f0 is not None:
        n_f += 1
        calls += 1
    if not adaptive:
        dt = torch.full_like(t_cur.detach(), float(config.step_size))
    elif config.first_step is not None:
        dt = torch.full_like(t_cur.detach(), float(config.first_step))
    else:
        f_start = f0
        if f_start is None:
            with torch.no_grad():
                f_start = field(t_cur.to(y.dtype), y)
            n_f += 1
            calls += 1
        dt = initial_step(field, t_cur.detach(), y.detach(), f_start.detach(), stepper.order, rtol, atol)
        n_f += 1
        calls += 1
    prev_ratio = torch.ones(batch, dtype=y0.dtype, device=dev)

    # Comparisons below need no .detach(): their boolean results carry no gradient anyway.
    n_active, iteration = batch, 0
    while n_active:
        iteration += 1
        rows = None if n_active == batch else active.nonzero().squeeze(1)
        idx = all_rows if rows is None else rows
        ta, ya, dta, f0a = _take(t_cur, rows), _take(y, rows), _take(dt, rows), _take(f0, rows)
        ts_a, na = _take(ts, rows), _take(next_idx, rows)
        target = _take(t_end, rows) if adaptive else ts_a.gather(1, na.unsqueeze(1)).squeeze(1)
        remaining = target - ta
        hit = remaining <= dta * (1 + _HIT_RTOL)
        h = torch.where(hit, remaining, dta)

        if config.checkpoint and torch.is_grad_enabled():
            res = torch.utils.checkpoint.checkpoint(stepper.step, field, ta, ya, h, f0a, use_reentrant=False)
        else:
            res = stepper.step(field, ta, ya, h, f0a)
        calls += res.n_f_evals
        y1 = res.y
        if adaptive:
            with torch.no_grad():
                ratio = error_ratio(res.error, ya, y1, _take(rtol, rows), _take(atol, rows), config.norm)
                accept = ratio <= 1.0
                dt_next = h * ctrl.factor(ratio, _take(prev_ratio, rows), accept).to(h.dtype)
        else:
            ratio = None
            # a non-finite entry makes its row sum non-finite: one reduction instead of a mask of the state
            accept = torch.isfinite(y1.detach().reshape(y1.shape[0], -1).sum(dim=1))
            dt_next = dta
        t_new = torch.where(hit, target, ta + h)

        # dense output at the requested times passed by the accepted steps
        count = torch.searchsorted(ts_a, t_new.unsqueeze(1), right=True).squeeze(1).sub_(na).mul_(accept)
        total = int(count.sum())
        if total:
            sub = torch.repeat_interleave(torch.arange(count.shape[0], device=dev), count, output_size=total)
            first = torch.cumsum(count, 0) - count
            k = na[sub] + (torch.arange(total, device=dev) - first[sub])
            t_k = ts_a[sub, k]
            at_end = t_k == t_new[sub]
            if not adaptive or bool(at_end.all()):
                vals = y1[sub]  # every requested time is a step end: no interpolation
            else:
                theta = (t_k - ta[sub]) / h[sub]
                vals = stepper.interpolate(theta, h[sub], ya[sub], y1[sub], _take(f0a, sub),
                                           _take(res.f_end, sub), _take(res.interp, sub))
                vals = torch.where(at_end.reshape(bshape), y1[sub], vals)
            record(idx[sub] * n_t + k, vals)

        all_accepted = bool(accept.all())  # the common case: no masking (a shorter graph to backpropagate)
        acc_b = accept.reshape(bshape)
        ya_new = y1 if all_accepted else torch.where(acc_b, y1, ya)
        fa_new = None
        if f0a is not None and res.f_end is not None:
            fa_new = res.f_end if all_accepted else torch.where(acc_b, res.f_end, f0a)
        ta_new = t_new if all_accepted else torch.where(accept, t_new, ta)
        # failures of the active samples: the step size underflows (or drops below dt_min), or non-finite values
        if adaptive:
            failed = ta_new + dt_next == ta_new
            if config.dt_min > 0:
                failed = failed | (dt_next < config.dt_min)
        else:
            failed = ~accept
        any_failed = bool(failed.any())
        if rows is None:
            y, f0, t_cur, dt = ya_new, fa_new, ta_new, dt_next
            next_idx = next_idx + count
            if ratio is not None:
                prev_ratio = torch.where(accept, ratio, prev_ratio)
            n_f += res.n_f_evals
            if all_accepted:
                n_acc += 1
            else:
                n_acc += accept
                n_rej += ~accept
        else:
            y = y.index_copy(0, rows, ya_new)
            f0 = f0.index_copy(0, rows, fa_new) if (f0 is not None and fa_new is not None) else None
            t_cur = t_cur.index_copy(0, rows, ta_new)
            dt = dt.index_copy(0, rows, dt_next)
            next_idx = next_idx.index_add(0, rows, count)
            if ratio is not None:
                prev_ratio = prev_ratio.index_copy(0, rows,
                                                   torch.where(accept, ratio, _take(prev_ratio, rows)))
            n_f.index_add_(0, rows, torch.full_like(rows, res.n_f_evals))
            n_acc.index_add_(0, rows, accept.long())
            if not all_accepted:
                n_rej.index_add_(0, rows, (~accept).long())
        active = active & (next_idx < n_t)
        if any_failed or iteration >= config.max_steps:
            # codes: 2 = step size too small, 3 = non-finite, 4 = max_steps (attempted steps of a sample can
            # reach max_steps only once the loop has run that many iterations)
            if adaptive:
                code = torch.where(failed, torch.where(torch.isfinite(ratio), int(Status.STEP_SIZE_TOO_SMALL),
                                                       int(Status.NON_FINITE)), 0)
            else:
                code = torch.where(failed, int(Status.NON_FINITE), 0)
            code_full = code if rows is None else zeros.index_copy(0, rows, code)
            code_full = torch.where(active, code_full, 0)
            code_full = torch.where(active & (code_full == 0) & (n_acc + n_rej >= config.max_steps),
                                    int(Status.MAX_STEPS), code_full)
            status = torch.where(code_full > 0, code_full, status)
            active = active & (code_full == 0)
        n_active = int(active.sum())

    if out_vals:
        flat = flat.index_put((torch.cat(out_rows),), torch.cat(out_vals))
    ys = flat.reshape(batch, n_t, *state)
    stats = {"n_f_evals": n_f, "n_steps": n_acc + n_rej, "n_accepted": n_acc, "n_rejected": n_rej}
    return ODESolution(ys=ys, ts=ts, stats=stats, status=status, n_calls=calls)
