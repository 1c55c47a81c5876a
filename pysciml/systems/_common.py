"""Small helpers shared by the catalogue systems: one right-hand side for numpy and torch, parameter checks.

The systems write their vector field once against an array namespace ``xp`` (``numpy`` or ``torch``);
:func:`namespace` picks it from the state and :func:`const` turns a numpy constant into an array of the
state's kind (dtype and device follow the state), so numpy and torch evaluations run the same code.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import torch

#: A numpy array or a torch tensor (the systems' private fields accept both).
Array = np.ndarray | torch.Tensor


def namespace(y: Any) -> ModuleType:
    """``torch`` for a tensor, ``numpy`` otherwise."""
    return torch if isinstance(y, torch.Tensor) else np


def const(xp: ModuleType, value: Any, like: Any) -> Any:
    """A numpy constant as an array of ``like``'s kind (same real dtype and device for a tensor)."""
    if xp is torch:
        arr = np.asarray(value)
        dtype = like.dtype if not np.iscomplexobj(arr) else (
            torch.complex128 if like.dtype == torch.float64 else torch.complex64)
        return torch.as_tensor(arr, dtype=dtype, device=like.device)
    return np.asarray(value)


def components(y: Array) -> tuple[Any, ...]:
    """The components ``y[..., i]`` of the last axis as a tuple (numpy scalars for one state ``[dim]``, whose
    arithmetic is several times cheaper than that of the 0-d arrays ``y[..., i]`` gives)."""
    if isinstance(y, torch.Tensor):
        return y.unbind(-1)
    return tuple(np.moveaxis(y, -1, 0)) if y.ndim > 1 else tuple(y)


def stack_last(xp: ModuleType, parts: list[Any]) -> Any:
    """``xp.stack(parts, axis=-1)``; numpy scalars (the field of one state ``[dim]``) become an array through
    ``np.array``, several times cheaper than ``np.stack`` on the per-trajectory SciPy path."""
    if xp is np and np.ndim(parts[0]) == 0:
        return np.array(parts, dtype=np.float64)
    return xp.stack(parts, axis=-1)


def wrap_angle(xp: ModuleType, angle: Any) -> Any:
    """Angle mapped to ``(-π, π]`` as ``atan2(sin a, cos a)`` (derivative 1 away from ``±π``)."""
    return xp.arctan2(xp.sin(angle), xp.cos(angle))


def check_finite(name: str, value: Any) -> float:
    """``value`` as a finite float (``ValueError`` naming ``name`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float that is ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    out = check_finite(name, value)
    if out < 0 or (out == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return out


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an integer ``>= minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_interval(name: str, value: Any, lower: float = -np.inf,
                   upper: float = np.inf) -> tuple[float, float]:
    """``value`` as a pair ``(a, b)`` of finite floats with ``lower <= a <= b <= upper``."""
    try:
        a, b = (check_finite(name, v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a pair (low, high) of finite numbers, got {value!r}") from exc
    if not lower <= a <= b <= upper:
        raise ValueError(f"{name} must satisfy {lower} <= low <= high <= {upper}, got {value!r}")
    return a, b


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
