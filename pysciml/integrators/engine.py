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

    The loop keeps the state of the *active* samples only, compacted (``rows`` maps them to the batch): when
    samples finish or fail they leave in one gather, and every other iteration steps the compact arrays
    without gathering or scattering anything. Every active sample attempts one step per iteration, so a
    sample's attempted steps are the iterations it stayed active and its evaluations the sum of theirs.
    """
    batch, n_t = ts.shape
    state = y0.shape[1:]
    bshape = (-1,) + (1,) * len(state)
    dev = y0.device
    adaptive = config.step_size is None
    ctrl = config.controller
    rtol = _tol(config.rtol, batch, state)
    atol = _tol(config.atol, batch, state)

    n_f = torch.zeros(batch, dtype=torch.long, device=dev)
    n_steps, n_rej, status = n_f.clone(), n_f.clone(), n_f.clone()
    rows = torch.arange(batch, device=dev)
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

    record(rows * n_t, y0)
    calls = 0

    t = ts[:, 0]
    y = y0
    f0 = stepper.init(field, t, y)
    if f0 is not None:
        calls += 1
    if not adaptive:
        dt = torch.full_like(t.detach(), float(config.step_size))
    elif config.first_step is not None:
        dt = torch.full_like(t.detach(), float(config.first_step))
    else:
        f_start = f0
        if f_start is None:
            with torch.no_grad():
                f_start = field(t.to(y.dtype), y)
            calls += 1
        dt = initial_step(field, t.detach(), y.detach(), f_start.detach(), stepper.order, rtol, atol)
        calls += 1
    evals = calls  # evaluations of every sample so far (each active sample takes part in every call)

    # compact per-active-sample state (comparisons need no .detach(): boolean results carry no gradient)
    prev_ratio = torch.ones(batch, dtype=y0.dtype, device=dev)
    next_idx = torch.ones(batch, dtype=torch.long, device=dev)
    t_next = ts[:, 1]  # each sample's next requested time
    t_end = ts[:, -1]
    ts_a = ts
    rejected: torch.Tensor | None = None  # rejections per active sample, once there is one
    # samples without an accepted step yet may grow their step by first_max_factor (see PIController)
    fresh: torch.Tensor | None = None
    any_fresh = adaptive
    # samples whose last attempt was rejected (only tracked when the controller holds the step after one)
    last_rej: torch.Tensor | None = None
    # last accepted step per sample (only for the predictive controller)
    prev_h: torch.Tensor | None = dt.clone() if (adaptive and ctrl.predictive) else None
    iteration = 0
    while rows.numel():
        iteration += 1
        target = t_end if adaptive else t_next
        remaining = target - t
        hit = remaining <= dt * (1 + _HIT_RTOL)
        h = torch.where(hit, remaining, dt)

        if config.checkpoint and torch.is_grad_enabled():
            res = torch.utils.checkpoint.checkpoint(stepper.step, field, t, y, h, f0, use_reentrant=False)
        else:
            res = stepper.step(field, t, y, h, f0)
        calls += res.n_f_evals
        evals += res.n_f_evals
        y1 = res.y
        if adaptive:
            with torch.no_grad():
                ratio = error_ratio(res.error, y, y1, rtol, atol, config.norm)
                accept = ratio <= 1.0
                cap = ctrl.max_factor
                if any_fresh:
                    cap = ctrl.first_max_factor if fresh is None else torch.where(
                        fresh, ctrl.first_max_factor, ctrl.max_factor)
                if last_rej is not None:
                    cap = torch.where(last_rej, 1.0, cap)
                h_ratio = None if prev_h is None else (h / prev_h).to(ratio.dtype)
                dt_next = h * ctrl.factor(ratio, prev_ratio, accept, cap, h_ratio).to(h.dtype)
        else:
            ratio = None
            # a non-finite entry makes its row sum non-finite: one reduction instead of a mask of the state
            accept = torch.isfinite(y1.detach().reshape(y1.shape[0], -1).sum(dim=1))
            dt_next = dt
        t_new = torch.where(hit, target, t + h)
        all_accepted = bool(accept.all())  # the common case: no masking (a shorter graph to backpropagate)

        # dense output at the requested times passed by the accepted steps
        reached = t_new >= t_next
        if not all_accepted:
            reached = reached & accept
        done: torch.Tensor | None = None
        if bool(reached.any()):
            count = torch.searchsorted(ts_a, t_new.unsqueeze(1), right=True).squeeze(1).sub_(next_idx).mul_(reached)
            total = int(count.sum())
            sub = torch.repeat_interleave(torch.arange(count.shape[0], device=dev), count, output_size=total)
            first = torch.cumsum(count, 0) - count
            k = next_idx[sub] + (torch.arange(total, device=dev) - first[sub])
            t_k = ts_a[sub, k]
            at_end = t_k == t_new[sub]
            if not adaptive or bool(at_end.all()):
                vals = y1[sub]  # every requested time is a step end: no interpolation
            else:
                theta = (t_k - t[sub]) / h[sub]
                vals = stepper.interpolate(theta, h[sub], y[sub], y1[sub], _take(f0, sub),
                                           _take(res.f_end, sub), _take(res.interp, sub))
                vals = torch.where(at_end.reshape(bshape), y1[sub], vals)
            record(rows[sub] * n_t + k, vals)
            next_idx = next_idx + count
            done = next_idx >= n_t
            t_next = ts_a.gather(1, next_idx.clamp_max(n_t - 1).unsqueeze(1)).squeeze(1)

        if all_accepted:
            y, t = y1, t_new
            f0 = None if f0 is None else res.f_end
            if ratio is not None:
                prev_ratio = ratio
            if prev_h is not None:
                prev_h = h.detach()
            fresh, any_fresh, last_rej = None, False, None
        else:
            acc_b = accept.reshape(bshape)
            y = torch.where(acc_b, y1, y)
            f0 = None if (f0 is None or res.f_end is None) else torch.where(acc_b, res.f_end, f0)
            t = torch.where(accept, t_new, t)
            if ratio is not None:
                prev_ratio = torch.where(accept, ratio, prev_ratio)
            if prev_h is not None:
                prev_h = torch.where(accept, h.detach(), prev_h)
            rejected = (~accept).long() if rejected is None else rejected + ~accept
            if ctrl.hold_after_reject:
                last_rej = ~accept
            if any_fresh:
                fresh = ~accept if fresh is None else fresh & ~accept
                any_fresh = bool(fresh.any())
                fresh = fresh if any_fresh else None
        dt = dt_next

        # failures: the step size underflows (or drops below dt_min), or non-finite values; or max_steps
        # (every active sample has attempted `iteration` steps)
        if adaptive:
            failed = t + dt == t
            if config.dt_min > 0:
                failed = failed | (dt < config.dt_min)
        else:
            failed = ~accept
        if bool(failed.any()) or iteration >= config.max_steps:
            if adaptive:
                code = torch.where(torch.isfinite(ratio), int(Status.STEP_SIZE_TOO_SMALL), int(Status.NON_FINITE))
            else:
                code = torch.full_like(rows, int(Status.NON_FINITE))
            code = torch.where(failed, code, int(Status.MAX_STEPS) if iteration >= config.max_steps else 0)
            if done is not None:
                code = torch.where(done, 0, code)  # finished in this step: a success
            stopped = code > 0
            status.index_put_((rows[stopped],), code[stopped])
            done = stopped if done is None else done | stopped

        if done is not None and bool(done.any()):
            # samples leave the active set: write their statistics, then compact the rest
            gone = rows[done]
            n_steps.index_fill_(0, gone, iteration)
            n_f.index_fill_(0, gone, evals)
            if rejected is not None:
                n_rej.index_put_((gone,), rejected[done])
            keep = (~done).nonzero().squeeze(1)
            rows, t, y, dt, f0, prev_ratio, next_idx, t_next, t_end, ts_a = _take(
                (rows, t, y, dt, f0, prev_ratio, next_idx, t_next, t_end, ts_a), keep)
            rejected, fresh, last_rej, prev_h, rtol, atol = _take((rejected, fresh, last_rej, prev_h, rtol, atol), keep)

    if out_vals:
        flat = flat.index_put((torch.cat(out_rows),), torch.cat(out_vals))
    ys = flat.reshape(batch, n_t, *state)
    stats = {"n_f_evals": n_f, "n_steps": n_steps, "n_accepted": n_steps - n_rej, "n_rejected": n_rej}
    return ODESolution(ys=ys, ts=ts, stats=stats, status=status, n_calls=calls)
