"""Input checks shared by the models: a model's tensors must be real floating point, match its parameters'
dtype and have the expected last dimension (scalar hyper-parameters: :func:`pysciml.validation.real_number`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError


def check_features(x: Any, name: str, size: int, module: nn.Module, *, min_ndim: int = 1) -> torch.Tensor:
    """``x`` as given after checking it is a real floating tensor ``[..., size]`` in ``module``'s dtype."""
    if not isinstance(x, torch.Tensor):
        raise InputTypeError(f"{name} must be a torch.Tensor [..., {size}], got {type(x).__name__}")
    if not x.is_floating_point():
        raise InputTypeError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}")
    param = next(module.parameters(), None)
    if param is not None and x.dtype != param.dtype:
        raise InputTypeError(f"{name} has dtype {x.dtype} but the model's parameters are {param.dtype}; convert "
                             f"one of them (e.g. model.to({x.dtype}))")
    if x.dim() < min_ndim or x.shape[-1] != size:
        raise ValidationError(f"{name} must have shape [..., {size}] (at least {min_ndim} dim(s)), got "
                              f"{tuple(x.shape)}")
    return x
