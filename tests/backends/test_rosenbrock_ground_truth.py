"""Batched Rosenbrock ground truth (``pysciml.solve(method="Rodas5P"|"Rodas4"|"Rosenbrock23")``)."""

from __future__ import annotations

import numpy as np
import pytest

import pysciml
from pysciml.status import Status
from pysciml.systems.robertson import Robertson

# methods.md §5 (SciPy Radau rtol 1e-13; the 1e11 row matches the Bari test set to all printed digits)
ROBERTSON_REF = {
    0.4: (9.8517211386099e-01, 3.3863953789749e-05, 1.4794022185220e-02),
    40.0: (7.1582706871941e-01, 9.1855347645578e-06, 2.8416374574583e-01),
    4e3: (1.8320225777671e-01, 8.9423712527759e-07, 8.1679684798617e-01),
    4e4: (3.8983377085483e-02, 1.6217683159097e-07, 9.6101646073769e-01),
    4e5: (4.9382745209800e-03, 1.9849940879545e-08, 9.9506170562908e-01),
    1e11: (2.0833401497000e-08, 8.3333607703296e-14, 9.9999997916652e-01),
}
ATOL = np.array([1e-14, 1e-18, 1e-14])


@pytest.fixture(scope="module")
def robertson_long() -> pysciml.backends.base.Solution:
    """Classic Robertson (1, 0, 0) with Rodas5P at rtol 1e-10 over [0, 1e11] (one batched solve)."""
    t = np.array([0.0, 0.4, 40.0, 4e3, 4e4, 1e5, 4e5, 1e11])
    return pysciml.solve("robertson", np.array([[1.0, 0.0, 0.0]]), t, method="Rodas5P", rtol=1e-10, atol=ATOL,
                         backend="python")


def test_robertson_rodas5p_matches_reference_values(robertson_long: pysciml.backends.base.Solution) -> None:
    sol = robertson_long
    assert sol.all_success, sol.messages
    for j, t in enumerate(sol.t):
        if t in ROBERTSON_REF:
            np.testing.assert_allclose(sol.y[0, j], ROBERTSON_REF[t], rtol=1e-6, err_msg=f"t={t:g}")


def test_robertson_rodas5p_t_1e5_matches_tight_radau(robertson_long: pysciml.backends.base.Solution) -> None:
    ref = pysciml.solve("robertson", np.array([[1.0, 0.0, 0.0]]), [0.0, 1e5], method="Radau", rtol=1e-12,
                        atol=np.array([1e-20, 1e-24, 1e-20]))
    j = int(np.flatnonzero(robertson_long.t == 1e5)[0])
    np.testing.assert_allclose(robertson_long.y[0, j], ref.y[0, -1], rtol=1e-6)


def test_robertson_to_1e11_success_and_mass(robertson_long: pysciml.backends.base.Solution) -> None:
    sol = robertson_long
    assert sol.status.tolist() == [int(Status.SUCCESS)]
    mass = Robertson().invariants(sol.y)["mass"]
    assert np.max(np.abs(mass - 1.0)) < 1e-9
    assert np.all(sol.steps > 0) and np.all(sol.nfev >= 8 * sol.steps) and np.all(sol.njev >= sol.steps)


@pytest.fixture(scope="module")
def radau_ensemble() -> pysciml.backends.base.Solution:
    """Six perturbed Robertson trajectories from SciPy Radau at rtol 1e-10 (reference)."""
    system = Robertson()
    t = np.concatenate([[0.0], np.geomspace(1e-4, 1e4, 12)])
    y0 = system.initial_conditions(6, seed=3)
    return pysciml.solve(system, y0, t, method="Radau", rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method, rtol, tol", [("Rodas4", 1e-7, 1e-4), ("Rosenbrock23", 1e-5, 5e-3),
                                               ("Rodas5P", 1e-7, 1e-4)])
def test_batched_ensemble_agrees_with_scipy_radau(method: str, rtol: float, tol: float,
                                                  radau_ensemble: pysciml.backends.base.Solution) -> None:
    """A perturbed ensemble solved at once agrees with per-trajectory SciPy Radau."""
    system = Robertson()
    ref = radau_ensemble
    y0, t = ref.y[:, 0], ref.t
    sol = pysciml.solve(system, y0, t, method=method, rtol=rtol, atol=1e-12, backend="python")
    assert sol.all_success and sol.y.shape == (6, t.size, 3) and sol.method == method
    rel = np.abs(sol.y - ref.y) / (np.abs(ref.y) + 1e-10)
    assert np.max(rel) < tol
    np.testing.assert_array_equal(sol.y[:, 0], y0)
    assert sol.nfev.shape == sol.njev.shape == sol.steps.shape == (6,)
    assert np.all(sol.steps > 0)


def test_step_budget_gives_max_steps_status_not_nan_silence() -> None:
    system = Robertson()
    y0 = system.initial_conditions(3, seed=0)
    sol = pysciml.solve(system, y0, [0.0, 1.0, 1e5], method="Rodas5P", rtol=1e-8, atol=1e-12, max_steps=5,
                        backend="python")
    assert np.all(sol.status == int(Status.MAX_STEPS))
    assert not sol.all_success
    assert np.all(np.isnan(sol.y[:, -1])) and np.all(np.isfinite(sol.y[:, 0]))
    assert all("max_steps" in m or "maximum number of steps" in m for m in sol.messages)


def test_methods_are_listed_by_the_python_backend() -> None:
    from pysciml.backends.python import PythonBackend

    described = PythonBackend().describe()
    for name in ("Rodas5P", "Rodas4", "Rosenbrock23"):
        assert name in described and "batched" in described[name]
