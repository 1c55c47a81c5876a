"""Regression tests of issue 18 for the stability diagnostics: no LAPACK call on non-finite or overflowing
data (MKL's eigen solver crashed or hung on them), exact values where the docstrings promise them."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pysciml.errors import InputTypeError, ValidationError
from pysciml.stability import (
    jacobian_spectra,
    log_norm,
    numerical_abscissa,
    spectral_abscissa,
    stiffness_index,
    transient_growth,
)


def _run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a crash there must not take the test process down)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_jacobian_spectra_on_non_finite_states_raises_in_a_live_process() -> None:
    proc = _run_isolated("""
        import torch
        from pysciml.errors import ValidationError
        from pysciml.stability import jacobian_spectra
        for value in (float("inf"), float("nan")):
            ys = torch.full((2, 3, 4), value, dtype=torch.float64)
            try:
                jacobian_spectra(lambda t, y: -y ** 3, torch.linspace(0, 1, 3), ys)
            except ValidationError as exc:
                assert "ys is not finite at ys[0, 0]" in str(exc), exc
            else:
                raise SystemExit("no error")
        print("done")
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done"


def test_jacobian_spectra_nan_only_where_the_jacobian_is_not_finite() -> None:
    # f = -y - y³: J = -diag(1 + 3y²); y = 1e200 makes 3y² overflow at that point only
    ys = torch.tensor([[[0.5, -1.0], [1e200, 0.0], [2.0, 3.0]]], dtype=torch.float64)
    eig = jacobian_spectra(lambda t, y: -y - y ** 3, torch.linspace(0, 1, 3), ys)
    assert torch.isnan(eig[0, 1]).all()
    for j in (0, 2):
        expected = (-(1 + 3 * ys[0, j] ** 2)).sort().values
        torch.testing.assert_close(eig[0, j].real.sort().values, expected)
        assert (eig[0, j].imag == 0).all()


def test_jacobian_spectra_of_a_field_independent_of_y_is_zero() -> None:
    eig = jacobian_spectra(lambda t, y: torch.ones_like(y), torch.zeros(2), torch.randn(1, 2, 3))
    assert eig.shape == (1, 2, 3) and (eig == 0).all()


def test_jacobian_spectra_rejects_bad_fields_and_dtypes() -> None:
    ys = torch.randn(1, 2, 3, dtype=torch.float64)
    with pytest.raises(ValidationError, match="f must return"):
        jacobian_spectra(lambda t, y: y[:, :1], torch.zeros(2), ys)
    with pytest.raises(InputTypeError, match="ys must be float32 or float64"):
        jacobian_spectra(lambda t, y: y, torch.zeros(2), ys.to(torch.float16))
    with pytest.raises(InputTypeError, match="ts"):
        jacobian_spectra(lambda t, y: y, "abc", ys)


def test_stiffness_index_of_a_zero_jacobian_is_inf() -> None:
    s = stiffness_index(torch.zeros(3, 3), 0.0, 1.0)
    assert math.isinf(float(s.condition)) and math.isinf(float(s.index)) and math.isinf(float(s.ratio))
    s = stiffness_index(torch.diag(torch.tensor([-1.0, 0.0])), 0.0, 1.0)  # singular, one zero eigenvalue
    assert math.isinf(float(s.condition)) and math.isinf(float(s.ratio))
    s = stiffness_index(torch.diag(torch.tensor([-2.0, -8.0])), 1.0, 3.0)
    assert float(s.condition) == pytest.approx(4.0) and float(s.index) == pytest.approx(8.0)
    for bad in ("a", math.nan, None):
        with pytest.raises((InputTypeError, ValidationError), match="t0"):
            stiffness_index(torch.eye(2), bad, 1.0)


@pytest.mark.parametrize("fn", [spectral_abscissa, numerical_abscissa, log_norm])
def test_matrix_diagnostics_reject_overflowing_and_complex_input(fn: object) -> None:
    with pytest.raises(ValidationError, match="2\\^500"):
        fn(torch.full((4, 4), 1e308, dtype=torch.float64))  # A + Aᵀ overflowed and eigh failed with a _LinAlgError
    with pytest.raises(InputTypeError, match="A must be a real"):
        fn(np.eye(2) * (1 + 1j))  # the imaginary part used to be dropped with a warning
    with pytest.raises(ValidationError, match="d >= 1"):
        fn(torch.zeros(0, 0))


def test_transient_growth_reports_overflow_as_inf() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    tg = transient_growth(a, [0.0, 1.0, 1e4])
    assert tg.norms[0] == pytest.approx(1.0) and tg.norms[1] == pytest.approx(math.e)
    assert math.isinf(float(tg.norms[2])) and math.isinf(tg.peak)
    with pytest.raises(InputTypeError, match="t must"):
        transient_growth(a, "soon")
