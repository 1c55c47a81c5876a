"""Public entry point :func:`odeint`: validate at the edge, build the stepper, run the engine."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from ..errors import InputTypeError, SolverWarning, ValidationError
from ..status import Status
from ..validation import check_positive_int
from .controller import PIController, controller_defaults
from .engine import EngineConfig, integrate
from .fields import VectorField
from .registry import make_stepper, method_family
from .solution import ODESolution
from .stepper import Stepper

_ENGINE_OPTIONS = ("step_size", "first_step", "safety", "min_factor", "max_factor", "first_max_factor", "max_steps",
                   "dt_min", "pcoeff", "icoeff", "hold_after_reject", "predictive", "time_dtype", "checkpoint")
_ADJOINT_OPTIONS = ("adjoint_rtol", "adjoint_atol", "adjoint_seminorm", "adjoint_params", "adjoint_method")


def _positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and (value.is_complex() or value.numel() != 1)):
        raise InputTypeError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError, RuntimeError) as exc:  # RuntimeError: a tensor that overflows float
        raise InputTypeError(f"{name} must be a number, got {type(value).__name__}") from exc
    if not math.isfinite(out) or out < 0 or (out == 0 and not allow_zero):
        bound = ">=" if allow_zero else ">"
        raise ValidationError(f"{name} must be a finite number {bound} 0, got {value!r}")
    return out


def _check_tol(tol: Any, name: str, y0: torch.Tensor) -> float | torch.Tensor:
    """A positive float or a positive tensor broadcastable to ``y0 [B, *S]`` (in y0's dtype/device)."""
    if isinstance(tol, torch.Tensor):
        if tol.dim() == 0:
            tol = tol.item()
        else:
            tol = tol.detach().to(dtype=y0.dtype, device=y0.device)
            try:
                ok = torch.broadcast_shapes(tol.shape, y0.shape) == y0.shape
            except RuntimeError:
                ok = False
            if not ok:
                raise ValidationError(f"{name} of shape {tuple(tol.shape)} does not broadcast to y0's shape "
                                      f"{tuple(y0.shape)}; give a scalar, [*state] or [batch, *state]")
            if not bool(torch.all(torch.isfinite(tol) & (tol > 0))):
                raise ValidationError(f"{name} must be finite and positive everywhere")
            return tol
    return _positive_float(tol, name)


def check_inputs(y0: Any, t: Any, time_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate ``y0 [B, *S]`` and ``t [T] | [B, T]``; return ``(y0, t [B, T] increasing, reversed)``."""
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise InputTypeError(f"y0 must be a floating-point torch.Tensor [batch, *state], got "
                             f"{type(y0).__name__ if not isinstance(y0, torch.Tensor) else y0.dtype}")
    if y0.dim() < 2:
        raise ValidationError(f"y0 must be batch first [batch, *state], got shape {tuple(y0.shape)}; "
                              "use y0.unsqueeze(0) for a single sample (or pysciml.compat.odeint)")
    if y0.shape[0] == 0 or y0[0].numel() == 0:
        raise ValidationError(f"y0 holds no samples or an empty state (shape {tuple(y0.shape)}); pass at least "
                              "one sample with a non-empty state")
    if not bool(torch.isfinite(y0).all()):
        raise ValidationError("y0 contains non-finite values (NaN or Inf)")
    if not isinstance(t, torch.Tensor):
        try:
            t = torch.as_tensor(t, dtype=time_dtype)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputTypeError(f"t must be a tensor or array of times, got {type(t).__name__}") from exc
    if t.is_complex() or t.dtype == torch.bool:  # a complex t used to lose its imaginary part silently
        raise InputTypeError(f"t must hold real times, got dtype {t.dtype}")
    t = t.to(dtype=time_dtype, device=y0.device)
    if t.dim() == 1:
        t = t.unsqueeze(0).expand(y0.shape[0], -1).contiguous()
    if t.dim() != 2 or t.shape[0] != y0.shape[0]:
        raise ValidationError(f"t must be [time] or [batch, time] with batch={y0.shape[0]}, "
                              f"got {tuple(t.shape)}")
    if t.shape[1] < 2:
        raise ValidationError(f"t must hold at least 2 times (start and end), got {t.shape[1]}")
    if not bool(torch.isfinite(t).all()):
        raise ValidationError("t contains non-finite values")
    d = torch.diff(t.detach(), dim=1)
    if bool((d > 0).all()):
        return y0, t, False
    if bool((d < 0).all()):
        return y0, -t, True
    raise ValidationError("t must be strictly monotone (all rows increasing, or all decreasing)")


def _check_checkpoint(value: Any, stepper: Stepper) -> bool:
    """``checkpoint`` must be a bool; exponential/IMEX steppers cache coefficients across steps, which
    recomputation in the backward pass cannot replay, so they do not support it."""
    if not isinstance(value, bool):
        raise InputTypeError(f"checkpoint must be True or False, got {value!r}")
    if value and method_family(stepper.name) in ("exponential", "imex"):
        raise ValidationError(f"checkpoint=True is available for explicit and Rosenbrock methods, not {stepper.name!r}")
    return value


def build_config(stepper: Stepper, rtol: Any, atol: Any, y0: torch.Tensor,
                 opts: dict[str, Any]) -> EngineConfig:
    """Engine configuration from the user's options (validated)."""
    step_size = opts.get("step_size")
    if step_size is not None:
        step_size = _positive_float(step_size, "step_size")
    elif not stepper.adaptive:
        raise ValidationError(f"method {stepper.name!r} has no error estimate: pass step_size=<dt> "
                              "(or choose an adaptive method such as dopri5/tsit5/bosh3)")
    first_step = opts.get("first_step")
    if first_step is not None:
        first_step = _positive_float(first_step, "first_step")
    safety = _positive_float(opts.get("safety", 0.9), "safety")
    min_factor = _positive_float(opts.get("min_factor", 0.2), "min_factor")
    max_factor = _positive_float(opts.get("max_factor", 10.0), "max_factor")
    first_max_factor = _positive_float(opts.get("first_max_factor", 1e4), "first_max_factor")
    if not (safety <= 1.0 and min_factor <= 1.0 <= max_factor and first_max_factor >= 1.0):
        raise ValidationError(f"need safety <= 1, min_factor <= 1 <= max_factor and first_max_factor >= 1, got "
                              f"safety={safety}, min_factor={min_factor}, max_factor={max_factor}, "
                              f"first_max_factor={first_max_factor}")
    defaults = controller_defaults(stepper.name, method_family(stepper.name))
    pcoeff = _positive_float(opts.get("pcoeff", defaults["pcoeff"]), "pcoeff", allow_zero=True)
    icoeff = _positive_float(opts.get("icoeff", defaults["icoeff"]), "icoeff")
    flags = {}
    for name in ("hold_after_reject", "predictive"):
        flags[name] = opts.get(name, defaults[name])
        if not isinstance(flags[name], bool):
            raise InputTypeError(f"{name} must be True or False, got {flags[name]!r}")
    k = min(stepper.order, stepper.error_order if stepper.error_order is not None else stepper.order) + 1
    return EngineConfig(
        rtol=_check_tol(rtol, "rtol", y0), atol=_check_tol(atol, "atol", y0), step_size=step_size,
        first_step=first_step,
        controller=PIController(order=k, safety=safety, min_factor=min_factor, max_factor=max_factor,
                                pcoeff=pcoeff, icoeff=icoeff, first_max_factor=first_max_factor,
                                **flags),
        max_steps=check_positive_int(opts.get("max_steps", 10_000), "max_steps"),
        checkpoint=_check_checkpoint(opts.get("checkpoint", False), stepper),
        dt_min=_positive_float(opts.get("dt_min", 0.0), "dt_min", allow_zero=True))


def _warn_max_steps(sol: ODESolution, max_steps: int, method: str) -> None:
    """Warn (:class:`~pysciml.errors.SolverWarning`) when samples stopped at the step budget; statuses stay."""
    n_max = int((sol.status == int(Status.MAX_STEPS)).sum())
    if n_max:
        warnings.warn(f"{n_max} of {sol.status.numel()} samples stopped after max_steps={max_steps} attempted steps "
                      f"before the final time ({method}; status MAX_STEPS, outputs after that are NaN): raise "
                      "max_steps, loosen rtol/atol, or use a method suited to the problem (e.g. rodas5p rather "
                      "than rosenbrock23 at tight tolerances)", SolverWarning, stacklevel=3)


def as_field(f: Any) -> VectorField:
    """Wrap a callable ``f(t, y)`` (or ``nn.Module``) as a :class:`VectorField` (fields pass through)."""
    if isinstance(f, VectorField):
        return f
    if not callable(f):
        raise InputTypeError(f"f must be callable f(t, y) or a VectorField, got {type(f).__name__}")
    return VectorField(f)


def odeint(f: Any, y0: torch.Tensor, t: Any, method: str = "dopri5", rtol: Any = 1e-7, atol: Any = 1e-9,
           adjoint: bool = False, **options: Any) -> ODESolution:
    """Solve the batch of IVPs ``y' = f(t, y)``, ``y(t_0) = y0``, returning values at the times ``t``.

    Args:
        f: vector field ``f(t, y)``: ``t`` is a ``[B]`` tensor (one time per sample, in ``y``'s dtype) and
            ``y`` is ``[B, *state]``; returns ``[B, *state]``. Only the active samples are passed, so ``B``
            may be smaller than the batch. May be an ``nn.Module``, a ``VectorField`` or a ``SplitField``.
        y0: initial states ``[batch, *state]`` (floating point; sets the data dtype).
        t: output times ``[time]`` shared or ``[batch, time]`` per sample, strictly increasing (or all
            decreasing: integration backwards), converted to ``time_dtype`` (float64 by default).
        method: a registered method (``pysciml.integrators.available_methods()``), e.g. ``dopri5``,
            ``tsit5``, ``bosh3`` (adaptive), ``euler``, ``midpoint``, ``heun``, ``ralston``, ``rk4`` (fixed),
            ``rosenbrock23``, ``rodas4``, ``rodas5p`` (stiff, adaptive), ``etd1``, ``etd2rk``, ``etdrk4``
            (exponential) and ``imex_ssp2`` (IMEX) for a :class:`~.split.SplitField` (fixed step).
        rtol, atol: positive floats or tensors broadcastable to ``[batch, *state]``.
        adjoint: differentiate with the continuous adjoint (:mod:`.adjoint`) instead of through the steps.
        **options: ``step_size`` (fixed stepping; required for methods without an error estimate),
            ``first_step``, ``safety`` (0.9), ``min_factor`` (0.2), ``max_factor`` (10),
            ``first_max_factor`` (10⁴: the growth allowed after a sample's first accepted step, as in SUNDIALS;
            set it to ``max_factor`` for torchdiffeq's rule), ``pcoeff`` (0), ``icoeff`` (1) (PI controller, see
            :mod:`.controller`), ``max_steps`` (10 000 per sample),
            ``dt_min`` (0), ``time_dtype`` (float64), ``checkpoint`` (False: recompute each step's internals in
            the backward pass instead of storing them, see :class:`.engine.EngineConfig`); with
            ``adjoint=True`` also ``adjoint_rtol``, ``adjoint_atol``, ``adjoint_seminorm``, ``adjoint_params``,
            ``adjoint_method``. Any other option goes to the method's stepper.

    Returns:
        :class:`ODESolution` with ``ys [batch, time, *state]``, ``ts``, per-sample ``stats``/``status``.
    """
    time_dtype = options.pop("time_dtype", torch.float64)
    if not isinstance(time_dtype, torch.dtype) or not time_dtype.is_floating_point:
        raise InputTypeError(f"time_dtype must be a floating torch.dtype, got {time_dtype!r}")
    y0, ts, backwards = check_inputs(y0, t, time_dtype)
    engine_opts = {k: options.pop(k) for k in _ENGINE_OPTIONS if k in options}
    adjoint_opts = {k: options.pop(k) for k in _ADJOINT_OPTIONS if k in options}
    if adjoint_opts and not adjoint:
        raise ValidationError(f"options {sorted(adjoint_opts)} need adjoint=True")
    stepper = make_stepper(method, **options)
    config = build_config(stepper, rtol, atol, y0, engine_opts)
    field = as_field(f)
    run_field = field.reversed() if backwards else field
    if adjoint:
        from .adjoint import adjoint_solve

        if method_family(method) in ("exponential", "imex"):
            raise ValidationError(f"adjoint=True is available for explicit and Rosenbrock methods; {method!r} is "
                                  "differentiated by backpropagation through its steps (adjoint=False)")
        sol = adjoint_solve(stepper, field, run_field, y0, ts, config, method, options, adjoint_opts,
                            backwards)
    else:
        sol = integrate(stepper, run_field, y0, ts, config)
    _warn_max_steps(sol, config.max_steps, method)
    if backwards:
        sol.ts = -sol.ts
    if t is not None and isinstance(t, torch.Tensor) and t.dim() == 1:
        sol.ts = sol.ts[0]
    return sol
