"""torchdiffeq-compatible shim: ``from pysciml.compat import odeint`` replaces torchdiffeq's ``odeint``.

Conventions of torchdiffeq: ``t`` is ``[time]``, ``func(t, y)`` gets a *scalar* time tensor and the whole
``y0`` (any shape) as one state; the result is time first, ``[time, *y0.shape]``. Internally the whole
``y0`` is one sample of :func:`pysciml.odeint`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .errors import InputTypeError, ValidationError


def odeint(func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], y0: torch.Tensor, t: torch.Tensor,
           rtol: float = 1e-7, atol: float = 1e-9, method: str | None = None,
           options: dict[str, Any] | None = None, adjoint: bool = False) -> torch.Tensor:
    """Solve ``dy/dt = func(t, y)`` torchdiffeq-style; returns ``[len(t), *y0.shape]``.

    ``method`` defaults to ``dopri5``; ``options`` (e.g. ``{"step_size": 0.01}``) are passed to
    :func:`pysciml.odeint`. Raises :class:`~pysciml.errors.ValidationError` if a sample fails
    (status other than success) rather than returning NaNs.
    """
    from .integrators import odeint as _odeint

    if not isinstance(y0, torch.Tensor):
        raise InputTypeError(f"y0 must be a torch.Tensor, got {type(y0).__name__}")
    if not isinstance(t, torch.Tensor) or t.dim() != 1:
        raise ValidationError("t must be a 1-D tensor of times (torchdiffeq convention)")

    def batched(tb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return func(tb[0].to(t.dtype), yb[0]).unsqueeze(0)

    sol = _odeint(batched, y0.unsqueeze(0), t, method=method or "dopri5", rtol=rtol, atol=atol,
                  adjoint=adjoint, time_dtype=t.dtype if t.is_floating_point() else torch.float64,
                  **(options or {}))
    if not bool(sol.success.all()):
        from .status import Status
        raise ValidationError(f"the solve failed: {Status(int(sol.status[0])).message}")
    return sol.ys[0]
