"""Helpers shared by the trainers: regulariser checks and metric names, solver-failure summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from ..regularizers.losses import Regularizer
from ..status import Status

__all__ = ["check_real", "check_regularizers", "failed_rows", "regularizer_names"]


def check_real(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
               strict_minimum: bool = False) -> float:
    """``value`` as a finite float in ``[minimum, maximum]`` (``(minimum, maximum]`` with ``strict_minimum``).

    Raises:
        InputTypeError: not a real number (bools and strings included).
        ValidationError: not finite, or out of range.
    """
    import math
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    low_bad = minimum is not None and (out <= minimum if strict_minimum else out < minimum)
    if not math.isfinite(out) or low_bad or (maximum is not None and out > maximum):
        lo = "-inf" if minimum is None else minimum
        bracket = "(" if strict_minimum or minimum is None else "["
        hi = "inf)" if maximum is None else f"{maximum}]"
        raise ValidationError(f"{name} must be a finite number in {bracket}{lo}, {hi}, got {value!r}")
    return out


def check_regularizers(regularizers: Sequence[Regularizer]) -> list[Regularizer]:
    """``regularizers`` as a list, each checked to be a :class:`~pysciml.regularizers.Regularizer`."""
    out = list(regularizers)
    for i, reg in enumerate(out):
        if not isinstance(reg, Regularizer):
            raise InputTypeError(f"regularizers[{i}] must be a pysciml.regularizers.Regularizer, got "
                                 f"{type(reg).__name__}")
    return out


def regularizer_names(regularizers: Sequence[Regularizer]) -> list[str]:
    """Metric keys ``reg_<ClassName>`` (``reg_<ClassName>_<k>`` for the ``k``-th repeat of a class) under which
    each regulariser's weighted value is logged."""
    names: list[str] = []
    for reg in regularizers:
        base = f"reg_{type(reg).__name__}"
        repeats = sum(n == base or n.startswith(base + "_") for n in names)
        names.append(base if repeats == 0 else f"{base}_{repeats}")
    return names


def failed_rows(status: Any) -> str | None:
    """``None`` if every per-sample solver status is success, else a summary naming the failures."""
    if status is None:
        return None
    status = torch.as_tensor(status)
    bad = status != int(Status.SUCCESS)
    if not bool(bad.any()):
        return None
    codes = sorted({int(c) for c in status[bad].flatten().tolist()})
    names = ", ".join(Status(c).name if c in Status._value2member_map_ else str(c) for c in codes)
    return f"{int(bad.sum())} of {status.numel()} rollouts failed ({names})"
