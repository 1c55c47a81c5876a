"""Argument checks used at the API edge. Each raises a :mod:`pysciml.errors` exception naming the argument."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import InputTypeError, UnknownNameError, ValidationError


def as_float_array(value: Any, name: str, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Convert ``value`` to a float64 numpy array and check its rank and that every entry is finite.

    Raises :class:`InputTypeError` for non-numeric input and :class:`ValidationError` for a wrong
    rank or non-finite entries.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be a numeric array, got {type(value).__name__}: {exc}") from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValidationError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                                  f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValidationError(f"{name} contains {bad} non-finite value(s) (NaN or Inf); remove or replace them")
    return arr


def real_number(value: Any, name: str) -> float:
    """``value`` as a finite float (bools, strings and non-finite values rejected, naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise ValidationError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_time_grid(t: Any, name: str = "t_eval", *, min_len: int = 2) -> np.ndarray:
    """Return ``t`` as a 1-D float64 array after checking it is finite and strictly increasing."""
    arr = as_float_array(t, name, ndim=1)
    if arr.size < min_len:
        raise ValidationError(f"{name} must hold at least {min_len} time points, got {arr.size}")
    if np.any(np.diff(arr) <= 0):
        i = int(np.argmax(np.diff(arr) <= 0))
        raise ValidationError(f"{name} must be strictly increasing; {name}[{i}]={arr[i]!r} is followed by "
                              f"{arr[i + 1]!r}")
    return arr


def check_tolerance(value: Any, name: str) -> float | np.ndarray:
    """Check a relative/absolute tolerance: a positive finite scalar or an array of them."""
    arr = as_float_array(value, name)
    if np.any(arr <= 0):
        raise ValidationError(f"{name} must be positive, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer ``>= minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(value: Any, name: str, choices: Iterable[str], *, case_sensitive: bool = True) -> str:
    """Check that ``value`` is one of ``choices`` and return the canonical spelling."""
    options = list(choices)
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a string, one of {options}; got {type(value).__name__}")
    if case_sensitive:
        if value in options:
            return value
    else:
        lowered = {o.lower(): o for o in options}
        if value.lower() in lowered:
            return lowered[value.lower()]
    raise UnknownNameError(f"unknown {name} {value!r}; valid choices: {', '.join(options)}")
