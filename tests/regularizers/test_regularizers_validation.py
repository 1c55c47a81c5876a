"""Regression tests of issue 18 for the regularisers: times, directions, weights and ``eps`` are validated."""

from __future__ import annotations

import math

import pytest
import torch

from pysciml import regularizers
from pysciml.errors import InputTypeError, ValidationError


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -y


def test_times_and_points_are_validated() -> None:
    x = torch.randn(4, 2, dtype=torch.float64)
    reg = regularizers.KineticEnergy()
    with pytest.raises(InputTypeError, match="t must be a number or a real tensor"):
        reg(_field, x, object())
    with pytest.raises(ValidationError, match="t contains NaN"):
        reg(_field, x, math.nan)
    with pytest.raises(ValidationError, match="dim >= 1"):
        reg(_field, torch.zeros(0, 0))
    for dtype in (torch.int64, torch.bfloat16, torch.float16):  # half precision had no SVD: NotImplementedError
        with pytest.raises(InputTypeError, match="float32 or float64"):
            reg(_field, torch.zeros(4, 2, dtype=dtype))
        with pytest.raises(InputTypeError, match="float32 or float64"):
            regularizers.jacobian_condition(_field, torch.zeros(4, 2, dtype=dtype), t=0.0)
    with pytest.raises(InputTypeError, match="v must be a real floating-point tensor"):
        regularizers.jvp(_field, x, [[1.0, 0.0]], t=0.0)
    with pytest.raises(InputTypeError, match="t must be"):
        regularizers.exact_jacobian(_field, x, t="now")
    with pytest.raises(ValidationError, match="x contains NaN"):
        regularizers.JacobianCondition(method="exact")(_field, torch.full((2, 2), math.nan))
    with pytest.raises(ValidationError, match="Jacobian of f at x is not finite"):  # svd on NaN failed before
        regularizers.jacobian_condition(lambda t, y: y ** 3, torch.full((2, 2), 1e200, dtype=torch.float64), t=0.0)
    assert float(reg(_field, x, 0.0)) == pytest.approx(float((x ** 2).sum(-1).mean()))


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "a"])
def test_weight_and_eps_must_be_finite_and_non_negative(value: object) -> None:
    with pytest.raises(ValidationError, match="weight"):
        regularizers.KineticEnergy(value)
    with pytest.raises(ValidationError, match="eps"):
        regularizers.JacobianCondition(eps=value)
    with pytest.raises(ValidationError, match="eps"):
        regularizers.JacobianFD(eps=value)
