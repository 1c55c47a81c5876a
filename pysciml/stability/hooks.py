"""Apply :func:`~pysciml.stability.stabilize` to a model with a weight ``A`` and an activation slope ``α``.

Works with :class:`pysciml.models.StableNODE` (``model.A`` an ``nn.Parameter [d, d]``,
``model.activation.alpha``). The perturbation ``Δ`` is added in place, without gradient, so it can run
after training or every few optimiser steps during training (projected training, seed 002).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InputTypeError
from ..validation import check_positive_int
from .stabilize import StabilizationResult, stabilize


def stabilize_node(model: Any, delta_target: float = 0.0, **options: Any) -> StabilizationResult:
    """Replace ``model.A`` by ``A + Δ`` with ``Δ`` the minimal perturbation giving ``δ ≤ delta_target``.

    ``options`` go to :func:`stabilize` (``tol``, ``rtol``, ``max_iter``, ``restarts``, ``seed``, ``certify``).
    """
    weight = getattr(model, "A", None)
    alpha = getattr(getattr(model, "activation", None), "alpha", None)
    if not isinstance(weight, torch.Tensor) or alpha is None:
        raise InputTypeError("model must have a weight tensor `A` and an `activation` with an `alpha` "
                             "attribute "
                             f"(e.g. pysciml.models.StableNODE); got {type(model).__name__}")
    res = stabilize(weight, float(alpha), delta_target, **options)
    with torch.no_grad():
        weight.add_(res.delta_matrix.to(device=weight.device, dtype=weight.dtype))
    return res


class StabilizeHook:
    """Callable ``hook(model, step)`` that stabilises ``model`` every ``every`` steps (seed 002 training).

    The last result is kept in ``self.last``.
    """

    def __init__(self, delta_target: float = 0.0, every: int = 1, **options: Any) -> None:
        self.delta_target = float(delta_target)
        self.every = check_positive_int(every, "every")
        self.options = options
        self.last: StabilizationResult | None = None

    def __call__(self, model: Any, step: int = 0) -> StabilizationResult | None:
        if step % self.every != 0:
            return None
        self.last = stabilize_node(model, self.delta_target, **self.options)
        return self.last
