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
    with pytest.raises(InputTypeError, match="floating-point"):
        reg(_field, torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(InputTypeError, match="v must be a real floating-point tensor"):
        regularizers.jvp(_field, x, [[1.0, 0.0]], t=0.0)
    with pytest.raises(InputTypeError, match="t must be"):
        regularizers.exact_jacobian(_field, x, t="now")
    assert float(reg(_field, x, 0.0)) == pytest.approx(float((x ** 2).sum(-1).mean()))


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "a"])
def test_weight_and_eps_must_be_finite_and_non_negative(value: object) -> None:
    with pytest.raises(ValidationError, match="weight"):
        regularizers.KineticEnergy(value)
    with pytest.raises(ValidationError, match="eps"):
        regularizers.JacobianCondition(eps=value)
    with pytest.raises(ValidationError, match="eps"):
        regularizers.JacobianFD(eps=value)
