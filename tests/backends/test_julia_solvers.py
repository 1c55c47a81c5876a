"""Real Julia solves, exponential integrators and adjoint gradients (marked ``julia``).

Skipped where Julia is not installed (on our machines: always — these tests have never run here). Each
compares the Julia result with an independent reference: the python backend, an exact solution, or finite
differences of Julia solves.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import pysciml
from pysciml.backends.julia import JuliaBackend, get_worker, julia_parameters

_OK, _REASON = JuliaBackend().availability()
pytestmark = [pytest.mark.julia,
              pytest.mark.skipif(not _OK, reason=f"julia backend unavailable here: {_REASON.split(';')[0]}")]


@pytest.mark.parametrize("method", ["Rodas5P", "Rodas4", "RadauIIA5", "KenCarp4", "TRBDF2", "QNDF"])
def test_stiff_methods_match_python_radau_on_robertson(method: str) -> None:
    t = np.array([0.0, 0.4, 4.0, 40.0, 400.0])
    ref = pysciml.solve("robertson", [1.0, 0.0, 0.0], t, method="Radau", rtol=1e-11,
                        atol=[1e-16, 1e-20, 1e-16], backend="python")
    sol = pysciml.solve("robertson", [1.0, 0.0, 0.0], t, method=method, rtol=1e-8,
                        atol=[1e-12, 1e-16, 1e-12], backend="julia")
    assert sol.all_success
    np.testing.assert_allclose(sol.y, ref.y, rtol=1e-4, atol=1e-12)


def test_rigid_body_invariants_with_vern9() -> None:
    system = pysciml.systems.get("rigid_body")
    y0 = system.initial_conditions(4, seed=1)
    sol = pysciml.solve(system, y0, np.linspace(0.0, 15.0, 31), method="Vern9", rtol=1e-12, atol=1e-12,
                        backend="julia")
    assert sol.all_success
    for name, values in system.invariants(sol.y).items():
        np.testing.assert_allclose(values, values[:, :1].repeat(values.shape[1], 1), rtol=1e-9, err_msg=name)


def test_two_body_matches_python_dop853() -> None:
    system = pysciml.systems.get("two_body")
    y0 = system.initial_conditions(3, seed=2)
    t = np.linspace(0.0, 8.0, 17)
    ref = pysciml.solve(system, y0, t, method="DOP853", rtol=1e-12, atol=1e-12, backend="python")
    sol = pysciml.solve(system, y0, t, method="Tsit5", rtol=1e-10, atol=1e-10, backend="julia")
    np.testing.assert_allclose(sol.y, ref.y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["ETDRK4", "HochOst4"])
def test_exponential_methods_on_transient_growth_match_expm_when_linear(method: str) -> None:
    system = pysciml.systems.get("transient_growth", epsilon=0.0)
    y0 = np.array([[0.3, -0.7]])
    t = np.linspace(0.0, 2.0, 5)
    sol = pysciml.solve(system, y0, t, method=method, dt=0.05, backend="julia")
    exact = np.stack([scipy.linalg.expm(tk * system.linear_operator()) @ y0[0] for tk in t])
    np.testing.assert_allclose(sol.y[0], exact, rtol=1e-9, atol=1e-12)  # exact for a linear problem


def test_ks_etdrk4_split_problem_matches_python_radau() -> None:
    system = pysciml.systems.get("kuramoto_sivashinsky", preset="linot")
    y0 = system.initial_conditions(2, seed=0)
    t = np.linspace(0.0, 5.0, 6)
    ref = pysciml.solve(system, y0, t, method="Radau", rtol=1e-10, atol=1e-10, backend="python")
    sol = pysciml.solve(system, y0, t, method="ETDRK4", dt=1e-3, backend="julia")
    assert sol.all_success
    np.testing.assert_allclose(sol.y, ref.y, atol=1e-5)
    np.testing.assert_allclose(sol.y.mean(-1), y0.mean(-1)[:, None].repeat(6, 1), atol=1e-10)


def test_expv_and_phiv_helpers_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6)) - 3 * np.eye(6)
    b = rng.standard_normal(6)
    worker = get_worker()
    np.testing.assert_allclose(worker.call("expv", t=0.7, A=a, b=b, m=6, tol=1e-13),
                               scipy.linalg.expm(0.7 * a) @ b, rtol=1e-10)
    phis = worker.call("phiv", t=0.7, A=a, b=b, k=1, m=6, tol=1e-13)
    phi1 = np.linalg.solve(0.7 * a, (scipy.linalg.expm(0.7 * a) - np.eye(6)) @ b)
    np.testing.assert_allclose(phis[:, 1], phi1, rtol=1e-9)


@pytest.mark.parametrize("sensealg", ["GaussAdjoint", "InterpolatingAdjoint", "QuadratureAdjoint",
                                      "ForwardDiffSensitivity"])
def test_sensitivity_matches_finite_differences(sensealg: str) -> None:
    system = pysciml.systems.get("rigid_body")
    y0 = np.array([np.cos(1.0), 0.0, np.sin(1.0)])
    t = np.linspace(0.0, 3.0, 7)
    data = pysciml.solve(system, y0, t, method="Vern9", rtol=1e-12, atol=1e-12, backend="julia").y[0] + 0.05
    res = pysciml.sensitivity(system, y0, t, data, method="Rodas5P", sensealg=sensealg, rtol=1e-10,
                              atol=1e-12)
    names, theta = julia_parameters(system)

    def loss(inertia: np.ndarray, x0: np.ndarray) -> float:
        s = pysciml.systems.get("rigid_body", inertia=tuple(inertia))
        y = pysciml.solve(s, x0, t, method="Vern9", rtol=1e-12, atol=1e-12, backend="julia").y[0]
        return 0.5 * float(np.sum((y - data) ** 2))

    h = 1e-6
    for i, name in enumerate(names):
        e = np.eye(len(theta))[i] * h
        fd = (loss(theta + e, y0) - loss(theta - e, y0)) / (2 * h)
        assert res.grad_params[name] == pytest.approx(fd, rel=1e-4, abs=1e-7), name
    for i in range(3):
        e = np.eye(3)[i] * h
        fd = (loss(theta, y0 + e) - loss(theta, y0 - e)) / (2 * h)
        assert res.grad_y0[i] == pytest.approx(fd, rel=1e-4, abs=1e-7)
    assert res.loss == pytest.approx(loss(theta, y0), rel=1e-6)


def test_torch_autograd_through_julia_matches_sensitivity() -> None:
    import torch

    from pysciml.sensitivity import julia_trajectory

    system = pysciml.systems.get("robertson")
    _, theta0 = julia_parameters(system)
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    t = np.array([0.0, 1.0, 10.0, 40.0])
    weights = torch.linspace(0.5, 2.0, 12, dtype=torch.float64).reshape(4, 3)
    y = julia_trajectory(system, theta, y0, t, method="Rodas5P", rtol=1e-10, atol=1e-14)
    (y * weights).sum().backward()
    ref = pysciml.sensitivity(system, y0.detach().numpy(), t, weights.numpy(), loss="dot", rtol=1e-10,
                              atol=1e-14)
    np.testing.assert_allclose(theta.grad.numpy(), list(ref.grad_params.values()), rtol=1e-6)
    np.testing.assert_allclose(y0.grad.numpy(), ref.grad_y0, rtol=1e-6)


@pytest.mark.parametrize("sensealg", ["GaussAdjoint", "InterpolatingAdjoint", "QuadratureAdjoint",
                                      "BacksolveAdjoint", "ForwardDiffSensitivity"])
def test_parameter_free_system_sensitivity_matches_finite_differences(sensealg: str) -> None:
    """two_body has no parameters: every sensealg still gives ∂loss/∂y0 (and no parameter gradient)."""
    system = pysciml.systems.get("two_body")
    y0 = np.array([1.0, 0.0, 0.0, 1.1])
    t = np.linspace(0.0, 2.0, 5)
    data = np.zeros((5, 4))
    res = pysciml.sensitivity(system, y0, t, data, method="Vern9", sensealg=sensealg, rtol=1e-11, atol=1e-12)
    assert res.grad_params == {}

    def loss(x0: np.ndarray) -> float:
        y = pysciml.solve(system, x0, t, method="Vern9", rtol=1e-12, atol=1e-12, backend="julia").y[0]
        return 0.5 * float(np.sum(y ** 2))

    h = 1e-6
    for i in range(4):
        e = np.eye(4)[i] * h
        assert res.grad_y0[i] == pytest.approx((loss(y0 + e) - loss(y0 - e)) / (2 * h), rel=1e-5, abs=1e-7)
