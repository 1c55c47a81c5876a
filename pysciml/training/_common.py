"""Helpers shared by the trainers: regulariser checks and metric names, solver-failure summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import InputTypeError
from ..regularizers.losses import Regularizer
from ..status import Status

__all__ = ["check_regularizers", "failed_rows", "regularizer_names"]


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
