"""Regression tests of issue 18 for the integrators: the expmv work cap (‖tA‖₁ ≈ 1e9 used to run for hours),
SplitField states that do not fit L, and φ-function argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from pysciml.errors import InputTypeError, ValidationError
from pysciml.integrators import LinearOperator, SplitField, expmv, odeint, phimv
from pysciml.integrators.expmv import MAX_MATVECS
from pysciml.integrators.phi import phi_functions


def test_expmv_refuses_work_beyond_the_cap_before_starting() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 20, generator=gen, dtype=torch.float64) * 1e8
    b = torch.randn(20, generator=gen, dtype=torch.float64)
    with pytest.raises(ValidationError, match=r"‖tA‖₁ = .* max_matvecs = 100000"):
        expmv(a, b, 1.0)
    with pytest.raises(ValidationError, match="max_matvecs"):
        phimv(a, b, [b], 1.0)
    with pytest.raises(ValidationError, match="max_matvecs"):  # the cap holds for matrix-free operators too
        expmv(LinearOperator(lambda x: x @ a.T, 20), b, 1.0)


def test_expmv_cap_is_adjustable_and_exact_below_it() -> None:
    a = torch.tensor([[-3.0, 5.0], [0.0, -4.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -2.0], dtype=torch.float64)
    ref = torch.linalg.matrix_exp(a) @ b
    torch.testing.assert_close(expmv(a, b, 1.0), ref, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValidationError, match="max_matvecs = 3"):
        expmv(a, b, 1.0, max_matvecs=3)
    torch.testing.assert_close(expmv(a, b, 1.0, max_matvecs=None), ref, rtol=1e-10, atol=1e-14)
    assert MAX_MATVECS >= 10_000
    for bad, err in ((0, ValidationError), (2.5, InputTypeError), (True, InputTypeError)):
        with pytest.raises(err, match="max_matvecs"):
            expmv(a, b, 1.0, max_matvecs=bad)
    with pytest.raises(InputTypeError, match="shift"):
        expmv(a, b, 1.0, shift="yes")


def test_split_field_rejects_states_that_do_not_fit_l() -> None:
    lin = -torch.eye(3, dtype=torch.float64)
    t = torch.linspace(0, 1, 3, dtype=torch.float64)
    for linear in (lin, LinearOperator(lambda x: -x, 3)):  # the matrix-free one silently ran on [2, 5] before
        f = SplitField(linear, lambda t, y: -y ** 3)
        for y0 in (torch.ones(2, 5, dtype=torch.float64), torch.ones(2, 3, 1, dtype=torch.float64)):
            for method in ("dopri5", "rodas4", "etdrk4"):
                with pytest.raises(ValidationError, match=r"SplitField: the state y must be flat \[batch, D\]"):
                    odeint(f, y0, t, method=method, step_size=0.1)
    sol = odeint(SplitField(lin, lambda t, y: 0 * y), torch.ones(2, 3, dtype=torch.float64), t, method="etdrk4",
                 step_size=0.1)
    torch.testing.assert_close(sol.ys[:, -1], torch.full((2, 3), torch.e ** -1, dtype=torch.float64))


def test_phi_functions_order_error_is_a_pysciml_error() -> None:
    with pytest.raises(ValidationError, match="p must be >= 0"):
        phi_functions(torch.zeros(2), -1)


def test_odeint_rejects_empty_batches_complex_times_and_complex_options() -> None:
    f = lambda t, y: -y  # noqa: E731
    t = torch.linspace(0, 1, 3, dtype=torch.float64)
    with pytest.raises(ValidationError, match="y0 holds no samples"):  # IndexError in the engine before
        odeint(f, torch.zeros(0, 2, dtype=torch.float64), t)
    with pytest.raises(InputTypeError, match="t must hold real times"):  # the imaginary part was dropped
        odeint(f, torch.ones(1, 2, dtype=torch.float64), t + 1j)
    with pytest.raises(InputTypeError, match="step_size must be a real number"):
        odeint(f, torch.ones(1, 2, dtype=torch.float64), t, method="rk4", step_size=torch.tensor(0.1 + 0.1j))
    sol = odeint(f, torch.ones(1, 2, dtype=torch.float64), t, method="rk4", step_size=torch.tensor(0.01))
    torch.testing.assert_close(sol.ys[0, -1], torch.full((2,), math.exp(-1.0), dtype=torch.float64), rtol=1e-8,
                               atol=0.0)
