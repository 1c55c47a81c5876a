"""Shared argument handling of :mod:`pysciml.stability` (square-matrix coercion)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputTypeError, ValidationError


def as_square(a: Any, name: str = "A", *, batched: bool = False) -> torch.Tensor:
    """Return ``a`` as a float64 torch tensor ``[d, d]`` (or ``[..., d, d]`` when ``batched``), detached.

    Raises :class:`InputTypeError` for non-numeric input and :class:`ValidationError` for a non-square
    or non-finite matrix.
    """
    if isinstance(a, torch.Tensor):
        if a.is_complex() or not (a.is_floating_point() or a.dtype in (torch.int32, torch.int64)):
            raise InputTypeError(f"{name} must be a real floating-point matrix, got dtype {a.dtype}")
        t = a.detach().to(torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(a, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{name} must be a real numeric matrix, got {type(a).__name__}") from exc
    if t.ndim < 2 or (not batched and t.ndim != 2) or t.shape[-1] != t.shape[-2]:
        want = "[..., d, d]" if batched else "[d, d]"
        raise ValidationError(f"{name} must be a square matrix of shape {want}, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValidationError(f"{name} contains NaN or Inf entries; pass a finite matrix")
    return t


def check_alpha(alpha: Any) -> float:
    """Check the lower slope bound ``α`` of the activation: a number in ``[0, 1]``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"alpha must be a float in [0, 1], got {type(alpha).__name__}")
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0):
        raise ValidationError(f"alpha must lie in [0, 1] (activation slopes are in [alpha, 1]), got {alpha}")
    return alpha
