"""What every robustness routine needs from a classifier: checked inputs, eval mode that is restored, batched
logits without a graph, and input gradients that never touch the parameters' ``.grad``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..validation import check_positive_int

__all__ = ["check_clip", "check_inputs", "check_levels", "evaluating", "input_gradient", "logits_of", "predict"]


def _reference_tensor(model: nn.Module) -> torch.Tensor | None:
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t
    return None


def check_inputs(model: Any, x: Any, y: Any = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Check ``model`` (an ``nn.Module``), ``x [n, ...]`` (finite float tensor, the model's dtype and device)
    and labels ``y [n]`` (integer, ``>= 0``; the upper bound is checked against the logits by :func:`predict`)."""
    if not isinstance(model, nn.Module):
        raise InputTypeError(f"model must be a torch.nn.Module classifier, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputTypeError(f"x must be a floating-point torch tensor [n, ...], got "
                             f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValidationError(f"x must be a batch [n, ...] with n >= 1 and at least one feature dimension, got "
                              f"shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValidationError("x contains NaN or Inf; remove those samples")
    ref = _reference_tensor(model)
    if ref is not None and (ref.dtype != x.dtype or ref.device != x.device):
        raise ValidationError(f"the model's parameters are {ref.dtype} on {ref.device} but x is {x.dtype} on "
                              f"{x.device}; move one of them, e.g. x = x.to(dtype={ref.dtype}, "
                              f"device='{ref.device}') or model.to(x.dtype)")
    if y is None:
        return x, None
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise InputTypeError(f"y must be an integer tensor of class indices [n], got "
                             f"{type(y).__name__ if not isinstance(y, torch.Tensor) else y.dtype}")
    if y.shape != (x.shape[0],):
        raise ValidationError(f"y must have shape [{x.shape[0]}] (one label per row of x), got {tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise ValidationError(f"labels must be class indices >= 0, found {int(y.min())}")
    return x, y.to(device=x.device, dtype=torch.long)


def check_levels(levels: Any, name: str) -> np.ndarray:
    """A 1-D grid of perturbation sizes (ε or σ): finite and ``>= 0``."""
    arr = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValidationError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValidationError(f"{name} must be finite and >= 0 (a perturbation size), got {arr.tolist()}")
    return arr


def check_clip(clip: Any, x: torch.Tensor) -> tuple[float, float] | None:
    """``(low, high)`` input range or ``None``; the clean ``x`` must lie inside it."""
    if clip is None:
        return None
    try:
        lo, hi = (float(c) for c in clip)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"clip must be a pair (low, high) or None, got {clip!r}") from exc
    if not lo < hi:
        raise ValidationError(f"clip must satisfy low < high, got {clip!r}")
    if bool((x < lo).any() or (x > hi).any()):
        raise ValidationError(f"x has values outside clip = ({lo}, {hi}); the clean inputs must lie in the "
                              f"input range")
    return lo, hi


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` inside the block; every submodule's ``training`` flag is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def logits_of(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``model(x)`` in batches of ``batch_size`` rows, without a graph: ``[n, C]``."""
    batch_size = check_positive_int(batch_size, "batch_size")
    with torch.no_grad():
        out = [model(chunk) for chunk in x.split(batch_size)]
    logits = torch.cat(out)
    if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
        raise ValidationError(f"the model must map x [n, ...] to logits [n, num_classes], got {tuple(logits.shape)}")
    return logits


def predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """Predicted classes ``[n]``; checks that every label in ``y`` is below the number of logits."""
    logits = logits_of(model, x, batch_size)
    if y is not None and y.numel() and int(y.max()) >= logits.shape[1]:
        raise ValidationError(f"labels must be < num_classes = {logits.shape[1]} (the model's logits), found "
                              f"{int(y.max())}")
    return logits.argmax(-1)


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``∇_x Σ_i CE(model(x)_i, y_i)`` (per-sample input gradients, ``x``'s shape).

    Uses ``torch.autograd.grad`` with ``x`` as the only input, so no parameter's ``.grad`` is written.
    """
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = nn.functional.cross_entropy(model(xg), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, xg)
    return grad
