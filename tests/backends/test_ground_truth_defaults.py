"""Ground truth that works by default: ETDRK4 step selection, RK4, paper-faithful defaults, failure isolation."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

import pysciml
from pysciml.backends.etd_methods import select_step
from pysciml.errors import ValidationError
from pysciml.status import Status
from pysciml.systems.base import System, SystemParams


def _dt(message: str) -> float:
    return float(re.search(r"dt=([0-9.e+-]+)", message).group(1))


@pytest.fixture
def one_torch_thread():
    """Small batched work runs best on one thread (two threads thrash on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("preset", ["linot", "lpsda"])
def test_ks_etdrk4_default_settings_succeed(preset: str, one_torch_thread) -> None:
    """Default span (0, 100), outputs and tolerances (rtol 1e-8, atol 1e-10): the step is found from a small
    start and the solve succeeds; over the first two output times it agrees with the solve at half the step to
    a few rtol (the local error control holds; chaos amplifies it later)."""
    system = pysciml.systems.get("kuramoto_sivashinsky", preset=preset, burn_in=0.0)
    y0 = system.initial_conditions(1, seed=0)
    t = system.default_t_eval()
    sol = pysciml.solve(system, y0, t, method="ETDRK4")
    assert sol.all_success, sol.messages
    dt = _dt(sol.messages[0])
    assert 0 < dt <= 1.0 and abs(1.0 / dt - round(1.0 / dt)) < 1e-3  # divides the output spacing 1
    half = pysciml.solve(system, y0, t[:3], method="ETDRK4", dt=dt / 2)
    err = np.abs(sol.y[:, :3] - half.y).max() / np.abs(half.y).max()
    assert err < 1e-7, err


def test_etdrk4_no_step_meets_tolerance_is_a_clear_error() -> None:
    system = pysciml.systems.get("kuramoto_sivashinsky", burn_in=0.0)
    y0 = torch.as_tensor(system.initial_conditions(1, seed=0))
    with pytest.raises(ValidationError, match="no ETDRK4 step meets.*dt="):
        select_step(system.split_field(), y0, np.linspace(0.0, 1000.0, 3), rtol=1e-15, atol=1e-300)


def test_etdrk4_step_search_never_feeds_non_finite_states() -> None:
    """A blow-up for large steps ends the search at the last finite candidate instead of failing."""
    system = pysciml.systems.get("transient_growth")
    y0 = torch.as_tensor([[0.1, 0.1]], dtype=torch.float64)
    h = select_step(system.split_field(), y0, np.array([0.0, 50.0]), rtol=1e-6, atol=1e-9)
    assert np.isfinite(h) and 0 < h <= 50.0


def test_rk4_is_fourth_order_and_needs_dt() -> None:
    system = pysciml.systems.get("two_body")
    y0 = system.initial_conditions(2, seed=0)
    t = np.linspace(0.0, 2.0, 11)
    ref = pysciml.solve(system, y0, t, method="DOP853", rtol=1e-13, atol=1e-13)
    errs = [np.abs(pysciml.solve(system, y0, t, method="RK4", dt=dt).y - ref.y).max() for dt in (0.04, 0.02)]
    assert 2 ** 3.7 < errs[0] / errs[1] < 2 ** 4.3, errs
    sol = pysciml.solve(system, y0, t, method="RK4", dt=0.01)
    assert np.all(sol.steps == 200) and np.all(sol.nfev == 4 * sol.steps)
    with pytest.raises(ValidationError, match="fixed-step.*dt="):
        pysciml.solve(system, y0, t, method="RK4")
    with pytest.raises(ValidationError, match="dt must be"):
        pysciml.solve(system, y0, t, method="RK4", dt=0.0)


def test_paper_faithful_defaults() -> None:
    t = pysciml.systems.get("robertson").default_t_eval()
    assert t[0] == 0.0 and t[1] <= 1e-5 and t[-1] == 1e5
    assert np.allclose(np.diff(np.log10(t[1:])), np.log10(t[2] / t[1]))  # log-spaced: the 1e-4 transient is seen
    ks = pysciml.systems.get("kuramoto_sivashinsky", preset="lpsda")
    assert ks.params.burn_in == pytest.approx(360 * 0.2)
    assert pysciml.systems.get("kuramoto_sivashinsky").params.burn_in == 0.0


def test_ks_burn_in_is_batched_etdrk4(one_torch_thread) -> None:
    """The burn-in equals ETDRK4 over [0, burn_in] from the raw random fields (what the docstring promises)."""
    system = pysciml.systems.get("kuramoto_sivashinsky", burn_in=2.0)
    raw = pysciml.systems.get("kuramoto_sivashinsky", burn_in=0.0).initial_conditions(3, seed=4)
    burnt = system.initial_conditions(3, seed=4)
    direct = pysciml.solve(system, raw, [0.0, 2.0], method="ETDRK4", dt=0.05).y[:, -1]
    np.testing.assert_allclose(burnt, direct, rtol=0, atol=1e-12)


@dataclasses.dataclass(frozen=True)
class _DecayParams(SystemParams):
    pass


class _PoisonedJacobian(System):
    """``y' = -y``; its Jacobian is NaN wherever ``y_0 > 5`` (a broken user Jacobian for one trajectory)."""

    name = "poisoned"
    Params = _DecayParams
    stiff = True

    @property
    def dim(self) -> int:
        return 2

    def _field(self, y):
        return -y

    def jacobian(self, t, y):
        y = np.asarray(y, dtype=np.float64)
        jac = np.broadcast_to(-np.eye(2), y.shape[:-1] + (2, 2)).copy()
        jac[y[..., 0] > 5.0] = np.nan
        return jac

    def initial_conditions(self, n, seed=0):
        return np.ones((n, 2))


@pytest.mark.parametrize("method", ["Radau", "BDF"])
def test_non_finite_jacobian_fails_one_trajectory_only(method: str) -> None:
    y0 = np.array([[1.0, 1.0], [10.0, 1.0], [0.5, 2.0]])
    t = np.linspace(0.0, 1.0, 5)
    sol = pysciml.solve(_PoisonedJacobian(), y0, t, method=method, rtol=1e-8, atol=1e-10)
    assert sol.status.tolist() == [0, int(Status.NON_FINITE), 0]
    assert "SciPy raised" in sol.messages[1]
    np.testing.assert_allclose(sol.y[[0, 2]], y0[[0, 2], None, :] * np.exp(-t)[None, :, None], rtol=1e-6)
    assert np.all(np.isnan(sol.y[1, 1:]))
