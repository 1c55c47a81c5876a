"""Bad input at the API edge raises ValueError/TypeError subclasses that name the argument."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysciml
from pysciml.errors import BackendUnavailableError, UnknownNameError, ValidationError

T = np.array([0.0, 1.0, 2.0])
Y0 = np.array([1.0, 0.0, 0.0])


def _solve(**kw):
    args = {"system": "robertson", "y0": Y0, "t_eval": T, "method": "Radau", "backend": "python"}
    args.update(kw)
    return pysciml.solve(**args)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2), st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_y0_rejected(i: int, bad: float) -> None:
    y0 = Y0.copy()
    y0[i] = bad
    with pytest.raises(ValidationError, match="y0"):
        _solve(y0=y0)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6).filter(lambda d: d != 3))
def test_wrong_state_dimension_rejected(dim: int) -> None:
    with pytest.raises(ValidationError, match=r"y0 must have shape \[batch, 3\]"):
        _solve(y0=np.ones(dim))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=8))
def test_non_increasing_t_eval_rejected(values: list[float]) -> None:
    t = np.array(values)
    if np.all(np.diff(t) > 0):
        t = t[::-1].copy()
        if np.all(np.diff(t) > 0):
            return
    with pytest.raises(ValidationError, match="t_eval"):
        _solve(t_eval=t)


@settings(max_examples=25, deadline=None)
@given(st.floats(max_value=0.0, allow_nan=False), st.sampled_from(["rtol", "atol"]))
def test_non_positive_tolerance_rejected(tol: float, name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        _solve(**{name: tol})


@pytest.mark.parametrize("kw, word", [({"system": "lorenz96"}, "system"), ({"method": "Euler42"}, "method"),
                                      ({"backend": "fortran"}, "backend")])
def test_unknown_names_listed(kw: dict, word: str) -> None:
    with pytest.raises(UnknownNameError, match=word) as info:
        _solve(**kw)
    assert isinstance(info.value, ValueError)
    assert "valid choices" in str(info.value)


def test_unknown_system_parameter() -> None:
    with pytest.raises(ValidationError, match="unknown parameter"):
        pysciml.systems.get("robertson", k4=1.0)


def test_invalid_system_parameter_value() -> None:
    with pytest.raises(ValidationError, match="k1"):
        pysciml.systems.get("robertson", k1=-1.0)


def test_julia_backend_unavailable_is_clear() -> None:
    with pytest.raises(BackendUnavailableError, match="julia"):
        _solve(backend="julia", method="Rodas5P")


def test_non_numeric_input_is_type_error() -> None:
    with pytest.raises(TypeError):
        _solve(y0="one")
