"""Shared argument handling of :mod:`pysciml.stability` (square-matrix coercion, guarded LAPACK calls).

Every linear-algebra call on user data goes through :func:`as_square` first (finite, real, not so large that
``A + Aᵀ`` or the balancing of ``eigvals`` overflows) and then :func:`lapack`, which turns a LAPACK failure
into a :class:`~pysciml.errors.ValidationError` naming the argument. Non-finite input must never reach LAPACK:
MKL's ``geev``/``gebal`` can crash or loop forever on NaN/Inf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import InputTypeError, ValidationError

#: Largest admitted entry magnitude (2^500 ≈ 3.3e150): sums of products of two entries stay finite.
MAX_ENTRY = 2.0 ** 500

T = TypeVar("T")


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
            raw = np.asarray(a)
            if raw.dtype.kind not in "iuf":
                raise TypeError(f"dtype {raw.dtype}")
            t = torch.as_tensor(raw.astype(np.float64))
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{name} must be a real numeric matrix, got {type(a).__name__} ({exc})") from exc
    if t.ndim < 2 or (not batched and t.ndim != 2) or t.shape[-1] != t.shape[-2] or t.shape[-1] == 0:
        want = "[..., d, d]" if batched else "[d, d]"
        raise ValidationError(f"{name} must be a square matrix of shape {want} with d >= 1, got shape "
                              f"{tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValidationError(f"{name} contains NaN or Inf entries; pass a finite matrix")
    if t.numel() and float(t.abs().max()) > MAX_ENTRY:
        raise ValidationError(f"{name} has entries of magnitude {float(t.abs().max()):.3g} > 2^500; rescale it "
                              "(the spectrum scales linearly with A)")
    return t


def lapack(fn: Callable[[torch.Tensor], T], m: torch.Tensor, name: str) -> T:
    """``fn(m)`` for a matrix already checked by :func:`as_square`; a LAPACK failure becomes a
    :class:`ValidationError` naming ``name``."""
    try:
        return fn(m)
    except (RuntimeError, torch.linalg.LinAlgError) as exc:
        raise ValidationError(f"{name}: the eigen/singular value computation failed ({exc}); the matrix is too "
                              "ill-conditioned for LAPACK") from exc


def check_alpha(alpha: Any) -> float:
    """Check the lower slope bound ``α`` of the activation: a number in ``[0, 1]``."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"alpha must be a float in [0, 1], got {type(alpha).__name__}")
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0):
        raise ValidationError(f"alpha must lie in [0, 1] (activation slopes are in [alpha, 1]), got {alpha}")
    return alpha
