"""Regression tests of issue 18 for the models: wrong inputs end in pysciml errors naming the argument
(they used to surface as torch RuntimeErrors or plain ValueErrors)."""

from __future__ import annotations

import math

import pytest
import torch

from pysciml import models
from pysciml.errors import InputTypeError, ValidationError


def test_forward_inputs_are_checked() -> None:
    field = models.MLPVectorField(2, hidden=4, layers=1)
    with pytest.raises(ValidationError, match=r"y must have shape \[\.\.\., 2\]"):
        field(torch.zeros(()), torch.zeros(4, 3))
    with pytest.raises(InputTypeError, match="y has dtype torch.float64 but the model's parameters are"):
        field(torch.zeros(()), torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(InputTypeError, match="y must be a torch.Tensor"):
        field(torch.zeros(()), [[0.0, 1.0]])
    with pytest.raises(InputTypeError, match="real floating-point"):
        models.HurwitzLinear(2)(torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(ValidationError, match="u must have shape"):
        models.StableNODE(3)(torch.zeros(()), torch.zeros(2, 2))
    with pytest.raises(ValidationError, match="z must have shape"):
        models.Autoencoder(4, 2, hidden=4).decode(torch.zeros(1, 3))
    with pytest.raises(ValidationError, match="x must have shape"):
        models.LipschitzMLP(3, 1, hidden=4)(torch.zeros(2, 2))
    timed = models.MLPVectorField(2, hidden=4, layers=1, time_dependent=True)
    with pytest.raises(ValidationError, match="t must be a scalar or hold one time per state"):
        timed(torch.zeros(3), torch.zeros(4, 2))
    out = timed(torch.zeros(4), torch.zeros(4, 2))  # one time per state still works
    assert out.shape == (4, 2)


@pytest.mark.parametrize(("build", "name"), [
    (lambda v: models.HurwitzLinear(2, shift=v), "shift"),
    (lambda v: models.HurwitzLinear(2, eps=v), "eps"),
    (lambda v: models.BilinearLowRank(2, 1, init_scale=v), "init_scale"),
    (lambda v: models.LipschitzMLP(2, 2, lipschitz=v), "lipschitz"),
    (lambda v: models.StableNODE(2, alpha=v), "alpha"),
    (lambda v: models.NeuralODEClassifier(models.MLPVectorField(2), 3, t1=v), "t1"),
])
@pytest.mark.parametrize("value", ["abc", math.nan, None, True])
def test_hyper_parameters_are_finite_numbers(build: object, name: str, value: object) -> None:
    if name == "lipschitz" and value is None:  # documented: no normalisation
        assert build(value).lipschitz_bound() > 0
        return
    with pytest.raises((InputTypeError, ValidationError), match=name):
        build(value)
