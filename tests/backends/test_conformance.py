"""Backend conformance suite: every backend honours the same ``Solution`` contract.

Parameterised over every registered backend: python always runs; julia cases carry the ``julia`` marker and
are skipped, with the reason shown in the pytest summary, where Julia is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import pysciml
from pysciml.backends.registry import backend_names, get_backend
from pysciml.errors import UnknownNameError, ValidationError
from pysciml.status import Status

# (backend, stiff method) pairs; every registered backend must appear.
CASES = [("python", "Radau"), ("python", "BDF"),
         ("julia", "Rodas5P"), ("julia", "RadauIIA5"), ("julia", "FBDF")]
ROBERTSON_40 = (7.1582706871941e-01, 9.1855347645578e-06, 2.8416374574583e-01)  # methods.md §5
ATOL = [1e-14, 1e-18, 1e-14]


def test_every_backend_is_covered() -> None:
    assert {b for b, _ in CASES} == set(backend_names())


@pytest.fixture(params=[pytest.param(c, marks=[pytest.mark.julia] if c[0] == "julia" else [],
                                     id=f"{c[0]}-{c[1]}") for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, method = request.param
    ok, reason = get_backend(name).availability()
    if not ok:
        pytest.skip(f"{name} backend unavailable here: {reason.split(';')[0]}")
    return name, method


def test_solution_contract(case: tuple[str, str]) -> None:
    backend, method = case
    system = pysciml.systems.get("robertson")
    y0 = np.array([[1.0, 0.0, 0.0], [0.99, 0.0, 0.01]])
    t = np.array([0.0, 0.4, 4.0, 40.0])
    sol = pysciml.solve(system, y0, t, method=method, backend=backend, rtol=1e-8, atol=ATOL)
    assert isinstance(sol, pysciml.Solution)
    assert sol.backend == backend and sol.method.lower() == method.lower() and sol.system == "robertson"
    assert sol.params == system.params.to_dict()
    assert sol.y.shape == (2, 4, 3) and sol.y.dtype == np.float64
    np.testing.assert_array_equal(sol.t, t)
    np.testing.assert_allclose(sol.y[:, 0], y0, rtol=0, atol=1e-15)
    assert sol.status.shape == (2,) and sol.status.dtype == np.int8 and sol.all_success
    for stat in (sol.nfev, sol.njev, sol.steps):
        assert stat.shape == (2,) and stat.dtype == np.int64
    assert np.all(sol.nfev > 0) and np.all(sol.steps > 0)
    assert len(sol.messages) == 2 and sol.wall_time >= 0.0
    mass = np.repeat(y0.sum(-1)[:, None], 4, axis=1)
    np.testing.assert_allclose(sol.y.sum(-1), mass, atol=1e-7)


def test_robertson_reference_at_t40(case: tuple[str, str]) -> None:
    backend, method = case
    sol = pysciml.solve("robertson", [1.0, 0.0, 0.0], [0.0, 40.0], method=method, backend=backend,
                        rtol=1e-10, atol=ATOL)
    assert sol.all_success
    np.testing.assert_allclose(sol.y[0, -1], ROBERTSON_40, rtol=1e-6)


def test_max_steps_too_small_sets_status(case: tuple[str, str]) -> None:
    backend, method = case
    sol = pysciml.solve("robertson", [1.0, 0.0, 0.0], [0.0, 1.0, 1e5], method=method, backend=backend,
                        max_steps=5)
    assert sol.status[0] == Status.MAX_STEPS and not sol.all_success
    assert np.isnan(sol.y[0, -1]).all()
    np.testing.assert_array_equal(sol.y[0, 0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"y0": [1.0, 0.0]}, ValidationError, "y0 must have shape"),
    ({"y0": [np.nan, 0.0, 0.0]}, ValidationError, "non-finite"),
    ({"t_eval": [0.0, 2.0, 1.0]}, ValidationError, "strictly increasing"),
    ({"t_eval": [0.0]}, ValidationError, "at least 2"),
    ({"rtol": -1.0}, ValidationError, "rtol must be positive"),
    ({"method": "NoSuchMethod"}, UnknownNameError, "NoSuchMethod"),
])
def test_bad_input_errors(case: tuple[str, str], kwargs: dict, error: type[Exception], match: str) -> None:
    backend, method = case
    args = {"y0": [1.0, 0.0, 0.0], "t_eval": [0.0, 1.0], "method": method, **kwargs}
    with pytest.raises(error, match=match):
        pysciml.solve("robertson", args.pop("y0"), args.pop("t_eval"), backend=backend, **args)
