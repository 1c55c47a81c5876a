"""Normalising a torchdiffeq-style call: tuple and any-shape states to one flat vector, decreasing times to
increasing ones, tolerances and the error norm to the flat state.

After :func:`normalise` every solver sees ``y0 [N]`` (the concatenated, flattened state), strictly increasing
``t [T]`` and a :class:`FlatFunc` ``f(t, y [N]) -> [N]`` that rebuilds the user's shapes, undoes the time reversal
and casts ``t`` to the state's dtype (torchdiffeq's conventions).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ..integrators.fields import checked_output
from ..validation import check_choice

Shapes = list[torch.Size] | None
#: the step callbacks torchdiffeq looks up on ``func`` (``callback_*_adjoint`` for the adjoint's backward solve)
CALLBACKS = ("callback_step", "callback_accept_step", "callback_reject_step")


def flat_to_shape(x: torch.Tensor, lead: tuple[int, ...], shapes: Sequence[torch.Size]) -> tuple[torch.Tensor, ...]:
    """Split the last dim of ``x [*lead, N]`` into tensors ``[*lead, *shape]`` for each shape."""
    out, start = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(x[..., start:start + n].reshape((*lead, *shape)))
        start += n
    return tuple(out)


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """torchdiffeq's default norm: root mean square over all entries."""
    return x.abs().pow(2).mean().sqrt()


def mixed_norm(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Default norm of a tuple state: the largest RMS norm of its parts (0 for no parts)."""
    return max((rms_norm(x) for x in xs), default=torch.tensor(0.0))


class FlatFunc:
    """``f(t, y_flat)`` for the solvers, calling the user's ``func`` with its own conventions.

    ``t`` is passed as a 0-dim tensor in the state's (real) dtype, negated when the problem was reversed;
    ``perturb`` (+1/-1) moves ``t`` to the next/previous representable time first (torchdiffeq's ``perturb``).
    Tuple states are split and the derivatives concatenated; each output is checked against its state.
    """

    def __init__(self, func: Callable[..., Any], shapes: Shapes, reverse: bool, y_shape: torch.Size) -> None:
        self.func = func
        self.shapes = shapes
        self.y_shape = y_shape
        self.sign = -1.0 if reverse else 1.0

    def __call__(self, t: torch.Tensor, y: torch.Tensor, perturb: int = 0) -> torch.Tensor:
        t = t.to(y.real.dtype if y.is_complex() else y.dtype)
        if perturb:
            t = t + (torch.nextafter(t.detach(), t.detach() + perturb) - t.detach())
        t_user = -t if self.sign < 0 else t
        if self.shapes is None:
            y_user = y.reshape(self.y_shape)
            out = checked_output(self.func(t_user, y_user), y_user, "func(t, y)").reshape(-1)
        else:
            parts = flat_to_shape(y, (), self.shapes)
            outs = self.func(t_user, parts)
            if not isinstance(outs, (tuple, list)) or len(outs) != len(parts):
                raise ValidationError(f"func(t, y) must return a tuple of {len(parts)} tensors for a tuple state, "
                                      f"got {type(outs).__name__}")
            out = torch.cat([checked_output(o, p, f"func(t, y)[{i}]").reshape(-1)
                             for i, (o, p) in enumerate(zip(outs, parts, strict=True))])
        return out * self.sign if self.sign < 0 else out


def event_on_flat(event_fn: Callable[..., Any], shapes: Shapes, reverse: bool, y_shape: torch.Size,
                  t0: torch.Tensor, y0: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The event function on the flat state, as one scalar: every component is first made positive at the start
    (multiplied by its initial sign) and the minimum taken, so the scalar changes sign at the first event."""

    def raw(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        state = y.reshape(y_shape) if shapes is None else flat_to_shape(y, (), shapes)
        out = event_fn(-t if reverse else t, state)
        if not isinstance(out, torch.Tensor):
            raise InputTypeError(f"event_fn must return a tensor, got {type(out).__name__}")
        return out

    with torch.no_grad():
        signs = torch.sign(raw(t0.to(y0.dtype), y0))

    def combined(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.min(raw(t.to(y.dtype), y) * signs)

    return combined


def user_callbacks(func: Any, shapes: Shapes, y_shape: torch.Size, reverse: bool) -> dict[str, Callable[..., Any]]:
    """``func``'s step callbacks ``cb(t0, y0, dt)``, called with the user's time and state layout."""
    out = {}
    for name in CALLBACKS:
        callback = getattr(func, name, None)
        if callback is None:
            continue

        def call(t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor, callback: Any = callback) -> Any:
            state = y0.reshape(y_shape) if shapes is None else flat_to_shape(y0, (), shapes)
            return callback(-t0 if reverse else t0, state, dt)

        out[name] = call
    return out


@dataclasses.dataclass
class Problem:
    """A normalised call (see the module docstring)."""

    func: FlatFunc
    y0: torch.Tensor
    t: torch.Tensor
    rtol: Any
    atol: Any
    method: str
    options: dict[str, Any]
    shapes: Shapes
    reverse: bool
    event_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    y_shape: torch.Size
    callbacks: dict[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)

    def callback(self, name: str, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        """Call the user's ``name`` callback (if any) with the step's start, state and size."""
        if name in self.callbacks:
            self.callbacks[name](t0, y0, dt)

    def unflatten(self, sol: torch.Tensor) -> Any:
        """``[T, N]`` -> the user's layout: ``[T, *y0.shape]`` or a tuple of ``[T, *shape_i]``."""
        if self.shapes is None:
            return sol.reshape(sol.shape[0], *self.y_shape)
        return flat_to_shape(sol, (sol.shape[0],), self.shapes)


def _check_t(t: Any) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise InputTypeError(f"t must be a 1-D torch.Tensor of times, got {type(t).__name__}")
    if not t.is_floating_point():
        raise InputTypeError(f"t must be a floating point tensor, got {t.dtype} (use t.float() or t.double())")
    if t.dim() != 1 or t.numel() < 1:
        raise ValidationError(f"t must be a non-empty 1-D tensor of times, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValidationError("t contains non-finite values")
    if t.numel() > 1:
        d = t[1:] > t[:-1]
        if not (bool(d.all()) or bool((t[1:] < t[:-1]).all())):
            raise ValidationError("t must be strictly increasing or strictly decreasing")
    return t


def _tuple_tol(name: str, tol: Any, shapes: Shapes) -> Any:
    """A tolerance given per tuple component, expanded to the flat state."""
    if shapes is None or isinstance(tol, (float, int)) or (isinstance(tol, torch.Tensor) and tol.dim() == 0):
        return tol
    parts = tuple(tol)
    if len(parts) != len(shapes):
        raise ValidationError(f"a tuple {name} needs one entry per state component ({len(shapes)}), "
                              f"got {len(parts)}")
    return torch.cat([torch.as_tensor(p).expand(math.prod(s)).reshape(-1) for p, s in zip(parts, shapes, strict=True)])


def _tol(name: str, tol: Any, y0: torch.Tensor) -> Any:
    """A float, or a tensor broadcastable to the flat state (cast to the state's dtype)."""
    if isinstance(tol, torch.Tensor):
        if tol.requires_grad:
            raise ValidationError(f"{name} cannot require gradient")
        if tol.dim() == 0:
            tol = float(tol)
        else:
            tol = tol.detach().to(y0.device, y0.real.dtype).reshape(-1)
            if tol.numel() not in (1, y0.numel()):
                raise ValidationError(f"{name} has {tol.numel()} entries for a state of {y0.numel()}; give a scalar "
                                      "or one per state entry")
            if not bool((tol >= 0).all()):
                raise ValidationError(f"{name} must be non-negative")
            return tol
    try:
        value = float(tol)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be a number or a tensor, got {type(tol).__name__}") from exc
    if not (value >= 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be a finite number >= 0, got {tol!r}")
    return value


def normalise(func: Any, y0: Any, t: Any, rtol: Any, atol: Any, method: str | None, options: dict[str, Any] | None,
              event_fn: Any, methods: Sequence[str]) -> Problem:
    """Validate and normalise one call (see the module docstring); ``methods`` are the accepted names."""
    if not callable(func):
        raise InputTypeError(f"func must be callable func(t, y), got {type(func).__name__}")
    shapes: Shapes = None
    if isinstance(y0, (tuple, list)):
        if not y0 or not all(isinstance(p, torch.Tensor) for p in y0):
            raise InputTypeError("y0 must be a tensor or a non-empty tuple of tensors")
        shapes = [p.shape for p in y0]
        rtol, atol = _tuple_tol("rtol", rtol, shapes), _tuple_tol("atol", atol, shapes)
        y_flat = torch.cat([p.reshape(-1) for p in y0])
    elif isinstance(y0, torch.Tensor):
        y_flat = y0.reshape(-1)
    else:
        raise InputTypeError(f"y0 must be a torch.Tensor or a tuple of tensors, got {type(y0).__name__}")
    if not (y_flat.is_floating_point() or y_flat.is_complex()):
        raise InputTypeError(f"y0 must be a floating point tensor, got {y_flat.dtype}")
    if not bool(torch.isfinite(y_flat).all()):
        raise ValidationError("y0 contains non-finite values (NaN or Inf)")
    t = _check_t(t)
    if event_fn is not None and t.numel() != 2:
        raise ValidationError(f"with event_fn, t must be [t0, t1] (len 2; only t0 is used), got len {t.numel()}")
    method = "dopri5" if method is None else check_choice(method, "method", list(methods), case_sensitive=False)
    if options is not None and not isinstance(options, dict):
        raise InputTypeError(f"options must be a dict, got {type(options).__name__}")
    options = {} if options is None else dict(options)
    reverse = t.numel() > 1 and bool(t[0] > t[1])
    if reverse:
        t = -t
        if "grid_constructor" in options:
            user_grid = options["grid_constructor"]
            options["grid_constructor"] = lambda f, y, tt: -user_grid(f, y, -tt)
        for key in ("step_t", "jump_t"):
            if isinstance(options.get(key), torch.Tensor):
                options[key] = -options[key]
    if t.device != y_flat.device:
        t = t.to(y_flat.device)
    user_norm = options.get("norm")
    if user_norm is None:
        options["norm"] = rms_norm if shapes is None else (lambda x: mixed_norm(flat_to_shape(x, (), shapes)))
    elif callable(user_norm):  # the user's norm sees the state in the user's layout
        options["norm"] = ((lambda x: user_norm(x.reshape(y0.shape))) if shapes is None
                           else (lambda x: user_norm(flat_to_shape(x, (), shapes))))
    else:
        raise InputTypeError(f"options['norm'] must be callable norm(y) -> scalar, got {user_norm!r}")
    y_shape = y0.shape if shapes is None else y_flat.shape
    flat_func = FlatFunc(func, shapes, reverse, y_shape)
    event = None if event_fn is None else event_on_flat(event_fn, shapes, reverse, y_shape, t[0], y_flat)
    return Problem(func=flat_func, y0=y_flat, t=t, rtol=_tol("rtol", rtol, y_flat), atol=_tol("atol", atol, y_flat),
                   method=method.lower(), options=options, shapes=shapes, reverse=reverse, event_fn=event,
                   y_shape=y_shape, callbacks=user_callbacks(func, shapes, y_shape, reverse))


def pop_options(options: dict[str, Any], known: dict[str, Any], method: str) -> dict[str, Any]:
    """Take the ``known`` options (with their defaults) out of ``options``; warn about the rest, as torchdiffeq
    does for options a method does not use."""
    out = {k: options.pop(k, default) for k, default in known.items()}
    options.pop("norm", None)
    if options:
        warnings.warn(f"method {method!r} does not use the options {sorted(options)}", stacklevel=4)
    return out
