"""``pysciml.solve(..., method="ETDRK4")``: spectral KS and dense semilinear systems against tight Radau."""

from __future__ import annotations

import re

import numpy as np
import pytest

import pysciml
from pysciml.errors import ValidationError
from pysciml.status import Status

T = np.linspace(0.0, 4.0, 17)


@pytest.fixture(scope="module", params=["linot", "lpsda"])
def ks_reference(request: pytest.FixtureRequest) -> tuple[object, np.ndarray, object]:
    system = pysciml.systems.get("kuramoto_sivashinsky", preset=request.param)
    y0 = system.initial_conditions(2, seed=5)
    ref = pysciml.solve(system, y0, T, method="Radau", rtol=1e-11, atol=1e-12)
    assert ref.all_success
    return system, y0, ref


def _rel_err(sol: object, ref: object) -> float:
    return float(np.abs(sol.y - ref.y).max() / np.abs(ref.y).max())


def test_ks_etdrk4_matches_radau_to_the_accuracy_of_the_step(ks_reference: tuple) -> None:
    system, y0, ref = ks_reference
    coarse = pysciml.solve(system, y0, T, method="ETDRK4", dt=0.04)
    fine = pysciml.solve(system, y0, T, method="ETDRK4", dt=0.02)
    assert coarse.all_success and fine.all_success
    e_coarse, e_fine = _rel_err(coarse, ref), _rel_err(fine, ref)
    assert e_fine < 2e-7, e_fine
    assert e_coarse / e_fine > 2 ** 3.3, (e_coarse, e_fine)  # fourth order (≥ 3.3 observed on this window)
    assert np.all(fine.nfev == 4 * fine.steps)
    drift = np.abs(system.invariants(fine.y)["mean"] - system.invariants(y0)["mean"][:, None]).max()
    assert drift < 1e-12


def test_ks_step_from_tolerance(ks_reference: tuple) -> None:
    system, y0, ref = ks_reference
    loose = pysciml.solve(system, y0, T, method="ETDRK4", rtol=1e-5, atol=1e-7)
    tight = pysciml.solve(system, y0, T, method="ETDRK4", rtol=1e-9, atol=1e-11)
    dts = [float(re.search(r"dt=([0-9.e-]+)", s.messages[0]).group(1)) for s in (loose, tight)]
    assert dts[1] < dts[0]
    assert "chosen from rtol/atol" in tight.messages[0]
    # the step divides the output spacing (outputs are equispaced)
    assert abs(0.25 / dts[1] - round(0.25 / dts[1])) < 1e-3  # dt printed to 6 digits
    assert _rel_err(tight, ref) < _rel_err(loose, ref) and _rel_err(tight, ref) < 1e-5


def test_dense_semilinear_system() -> None:
    system = pysciml.systems.get("transient_growth")
    y0 = system.initial_conditions(3, seed=0)
    t = np.linspace(0.0, 5.0, 11)
    ref = pysciml.solve(system, y0, t, method="Radau", rtol=1e-12, atol=1e-14)
    sol = pysciml.solve(system, y0, t, method="ETDRK4", dt=0.01)
    assert sol.all_success and _rel_err(sol, ref) < 1e-9


def test_etdrk4_errors_and_failure_status() -> None:
    with pytest.raises(ValidationError, match="semilinear"):
        pysciml.solve("robertson", [1.0, 0.0, 0.0], [0.0, 1.0], method="ETDRK4", dt=0.1)
    with pytest.raises(ValidationError, match="unknown option"):
        pysciml.solve("transient_growth", [0.1, 0.1], [0.0, 1.0], method="ETDRK4", step=0.1)
    with pytest.raises(ValidationError, match="dt must be"):
        pysciml.solve("transient_growth", [0.1, 0.1], [0.0, 1.0], method="ETDRK4", dt=-1.0)
    # a step budget too small is reported per trajectory, never silently
    sol = pysciml.solve("transient_growth", [[0.1, 0.1], [0.2, 0.0]], [0.0, 1.0], method="ETDRK4", dt=0.01,
                        max_steps=10)
    assert np.all(sol.status == int(Status.MAX_STEPS)) and np.all(np.isnan(sol.y[:, -1]))
    # a blow-up (ε y∘y with a huge initial state) gives NON_FINITE for that trajectory only
    sol = pysciml.solve("transient_growth", [[0.1, 0.1], [1e3, 1e3]], np.linspace(0, 5, 6), method="ETDRK4",
                        dt=0.1)
    assert sol.status[0] == int(Status.SUCCESS) and sol.status[1] == int(Status.NON_FINITE)
    assert np.all(np.isfinite(sol.y[0]))
