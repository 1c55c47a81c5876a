"""System-specific checks: invariants along tight SciPy solutions, exact solutions, KS spectral operators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.integrate import solve_ivp

import pysciml.systems as systems


def integrate(s: systems.System, y0: np.ndarray, t1: float, t_eval: np.ndarray | None = None,
              method: str = "DOP853", rtol: float = 1e-10, atol: float = 1e-12):
    kw = {"jac": lambda t, u: s.jacobian(t, u[None])[0]} if method in ("Radau", "BDF") else {}
    sol = solve_ivp(lambda t, u: s.rhs(t, u[None])[0], (0.0, t1), y0, method=method, rtol=rtol, atol=atol,
                    t_eval=t_eval, **kw)
    assert sol.success, sol.message
    return sol


@pytest.mark.parametrize(("name", "key"), [("two_body", "angular_momentum"), ("rigid_body", "casimir"),
                                           ("two_body", "energy"), ("rigid_body", "energy")])
def test_invariant_drift_over_100_time_units(name: str, key: str) -> None:
    s = systems.get(name)
    for y0 in s.initial_conditions(2, seed=5):
        sol = integrate(s, y0, 100.0, t_eval=np.linspace(0.0, 100.0, 51))
        inv = s.invariants(sol.y.T)[key]
        assert np.abs(inv - inv[0]).max() <= 1e-8


def test_invariants_are_first_integrals_of_the_field() -> None:
    """∇I · f = 0 at random states (checked with finite differences of the invariant)."""
    rng = np.random.default_rng(0)
    for name in ("two_body", "rigid_body", "vehicle", "multi_agent", "kuramoto_sivashinsky", "robertson"):
        s = systems.get(name)
        y = s.initial_conditions(3, 1) + 0.05 * rng.standard_normal((3, s.dim))
        f = s.rhs(0.0, y)
        fmax = np.abs(f).max()
        h = 1e-4 / fmax
        for key, value in s.invariants(y).items():
            rate = (s.invariants(y + h * f)[key] - s.invariants(y - h * f)[key]) / (2 * h)
            assert np.abs(rate).max() <= 1e-8 * max(1.0, np.abs(value).max()) * max(1.0, fmax), (name, key)


def test_two_body_initial_conditions_follow_seed_001() -> None:
    s = systems.get("two_body")
    y0 = s.initial_conditions(200, 0)
    e = 1.0 - y0[:, 0]
    assert np.all((e >= 0.5) & (e <= 0.7))
    np.testing.assert_allclose(y0[:, 3], np.sqrt((1 + e) / (1 - e)))
    # semi-major axis 1: energy -1/2, period 2π — the orbit closes after one period
    np.testing.assert_allclose(s.invariants(y0)["energy"], -0.5, atol=1e-14)
    sol = integrate(s, y0[0], 2 * np.pi)
    np.testing.assert_allclose(sol.y[:, -1], y0[0], atol=1e-7)


def test_rigid_body_initial_conditions_and_rotation_about_axis() -> None:
    s = systems.get("rigid_body")
    y0 = s.initial_conditions(100, 3)
    phi = np.arctan2(y0[:, 2], y0[:, 0])
    assert np.all((phi >= 0.5) & (phi <= 1.5)) and np.all(y0[:, 1] == 0)
    np.testing.assert_allclose(s.invariants(y0)["casimir"], 0.5)
    # rotation about a principal axis is an equilibrium
    np.testing.assert_array_equal(s.rhs(0.0, np.array([[0.0, 2.0, 0.0]])), 0.0)


def test_transient_growth_variants() -> None:
    decay, growth = systems.get("transient_growth", variant="decay"), systems.get("transient_growth")
    a_d, a_g = decay.linear_operator(), growth.linear_operator()
    np.testing.assert_allclose(np.linalg.eigvals(a_d), np.linalg.eigvals(a_g))   # same spectrum
    assert decay.numerical_abscissa() < 0 < growth.numerical_abscissa()
    ts = np.linspace(0.0, 6.0, 121)
    norms = {k: np.array([np.linalg.norm(scipy.linalg.expm(t * a), 2) for t in ts])
             for k, a in (("d", a_d), ("g", a_g))}
    assert np.all(np.diff(norms["d"]) < 0)
    assert norms["g"].max() > 1.5 and norms["g"][-1] < 0.1
    # ε = 0: the nonlinear system reduces to the linear flow e^{tA} y0
    lin = systems.get("transient_growth", epsilon=0.0)
    y0 = lin.initial_conditions(1, 0)[0]
    sol = integrate(lin, y0, 2.0)
    np.testing.assert_allclose(sol.y[:, -1], scipy.linalg.expm(2.0 * a_g) @ y0, atol=1e-9)


def test_vehicle_input_is_the_fourier_series_of_its_phases() -> None:
    s = systems.get("vehicle")
    y0 = s.initial_conditions(1, 4)[0]
    ts = np.linspace(0.0, 10.0, 21)
    sol = integrate(s, y0, 10.0, t_eval=ts)
    k = np.arange(1, 4)
    p0, q0 = y0[6::2].reshape(2, 3), y0[7::2].reshape(2, 3)
    psi = np.arctan2(p0, q0)
    np.testing.assert_allclose(np.hypot(p0, q0), np.broadcast_to(1.0 / k, (2, 3)), atol=1e-14)
    expected = (np.sin(k * s.params.omega0 * ts[:, None, None] + psi) / k).sum(-1)   # [T, 2]
    np.testing.assert_allclose(s.inputs(sol.y.T), expected, atol=1e-8)


def test_vehicle_unforced_decays_and_kinematics_rotate() -> None:
    s = systems.get("vehicle", input_amplitude=0.0)
    y = np.zeros((1, s.dim))
    y[0, 2], y[0, 3] = np.pi / 2, 2.0            # heading +y, surge 2
    f = s.rhs(0.0, y)[0]
    np.testing.assert_allclose(f[:6], [0.0, 2.0, 0.0, -2.0, 0.0, 0.0], atol=1e-15)
    # with linear damping kd the kinetic energy m|v|²/2 + I ω²/2 decays at rate -2 kd E/m without input
    y0 = s.initial_conditions(1, 2)[0]
    y0[6:] = 0.0
    sol = integrate(s, y0, 1.0)
    kin = lambda v: 0.5 * (v[3] ** 2 + v[4] ** 2 + v[5] ** 2)   # noqa: E731  (m = I = 1)
    np.testing.assert_allclose(kin(sol.y[:, -1]), kin(y0) * np.exp(-2.0), rtol=1e-8)


def multi_agent_reference(p, eta: np.ndarray, w: np.ndarray, wrap=lambda a: a) -> np.ndarray:
    """Loop-per-agent transcription of Quaglino et al. (arXiv:1906.07038) App. B, literally (no wrapping)."""
    na, out = p.n_agents, np.zeros(3 * p.n_agents)
    for i in range(na):
        xi, yi, phii = eta[3 * i: 3 * i + 3]
        s_nu = w[0] + p.k_v
        s_om = w[1] + p.k_phi * wrap(math.atan2(-yi, -xi) - phii)
        for j in range(na):
            if j == i:
                continue
            xj, yj = eta[3 * j], eta[3 * j + 1]
            dphi = wrap(math.atan2(yi - yj, xi - xj) - phii)
            g = math.exp(-math.hypot(xi - xj, yi - yj) / p.l_s)
            if p.avoidance == "train":
                g *= math.exp(-abs(dphi + math.pi / 2))
            s_nu -= p.k_vo * g / na
            s_om += p.k_phio * dphi / na
        out[3 * i: 3 * i + 3] = [math.cos(phii) * math.tanh(s_nu), math.sin(phii) * math.tanh(s_nu),
                                 math.tanh(s_om)]
    return out


@pytest.mark.parametrize("avoidance", ["train", "test"])
def test_multi_agent_matches_loop_reference(avoidance: str) -> None:
    s = systems.get("multi_agent", n_agents=4, avoidance=avoidance)
    y = s.initial_conditions(3, 9)
    y[:, 3:5] = y[:, 0:2] + 0.01          # agents 1 and 2 within the avoidance range l_s
    f = s.rhs(0.0, y)
    for b in range(3):
        w = s.exo.values(y[b, 12:])
        np.testing.assert_allclose(f[b, :12], multi_agent_reference(s.params, y[b, :12], w), atol=1e-15)
        field = lambda v: s.rhs_torch(0.0, v[None])[0]   # noqa: E731
        auto = torch.autograd.functional.jacobian(field, torch.from_numpy(y[b]))
        np.testing.assert_allclose(s.jacobian(0.0, y[b:b + 1])[0], auto.numpy(), rtol=0, atol=1e-12)
    assert systems.get("multi_agent").dim == 30 + 12


def test_multi_agent_uses_the_literal_angle_formulas_without_wrapping() -> None:
    """At headings where atan2(·) − φ leaves (−π, π] the literal formula and a wrapped one differ: we follow
    the paper's literal one."""
    s = systems.get("multi_agent", n_agents=3, n_harmonics=0)
    y = np.array([[0.5, 0.4, -3.0, 0.52, 0.41, 2.9, -0.7, 0.3, 6.0]])    # φ far outside (−π, π]
    f = s.rhs(0.0, y)[0]
    np.testing.assert_allclose(f, multi_agent_reference(s.params, y[0], np.zeros(2)), atol=1e-15)
    wrapped = multi_agent_reference(s.params, y[0], np.zeros(2), wrap=lambda a: math.atan2(math.sin(a),
                                                                                        math.cos(a)))
    assert np.abs(f - wrapped).max() > 1e-3
    jac = s.jacobian(0.0, y)[0]
    auto = torch.autograd.functional.jacobian(lambda v: s.rhs_torch(0.0, v[None])[0], torch.from_numpy(y[0]))
    np.testing.assert_allclose(jac, auto.numpy(), atol=1e-12)


def test_multi_agent_paper_configurations() -> None:
    train, test = systems.MultiAgent.paper("train"), systems.MultiAgent.paper("test")
    assert train.dim == 42 and test.dim == 30
    p = train.params
    assert (p.n_agents, p.k_v, p.k_phi, p.k_vo, p.k_phio, p.l_s, p.avoidance, p.input_amplitude) == (
        10, 0.05, 0.1, 0.001, 0.01, 0.01, "train", 0.1)
    q = test.params
    assert (q.avoidance, q.k_vo, q.k_phio, q.k_v, q.k_phi) == ("test", 0.05, 0.1, 0.05, 0.1)
    with pytest.raises(ValueError, match="config"):
        systems.MultiAgent.paper("validation")


@pytest.mark.parametrize("name", ["vehicle", "multi_agent"])
def test_exogenous_input_form_equals_the_augmented_form(name: str) -> None:
    """The physical states of the augmented (catalogue) solution solve the exogenous-input field with
    u = input_series(y0), also beyond the training horizon."""
    s = systems.get(name)
    n = s.dim - s.exo.dim
    y0 = s.initial_conditions(3, 5)
    u = s.input_series(y0)
    ts = np.linspace(0.0, 20.0, 41)
    for b in range(3):
        aug = integrate(s, y0[b], 20.0, t_eval=ts)
        ub = u.select(torch.tensor([b]))
        field = lambda t, x: s.controlled_field(x[None], ub(torch.tensor([t])).numpy())[0]   # noqa: E731, B023
        exo = solve_ivp(field, (0.0, 20.0), y0[b, :n], method="DOP853", rtol=1e-10, atol=1e-12, t_eval=ts)
        np.testing.assert_allclose(exo.y, aug.y[:n], atol=1e-7)
        np.testing.assert_allclose(ub(torch.as_tensor(ts)[None])[0].numpy(), s.exo.values(aug.y[n:].T), atol=1e-8)


def test_multi_agent_avoidance_slows_close_agents() -> None:
    quiet = systems.get("multi_agent", n_agents=2, input_amplitude=0.0)
    y = np.zeros((2, quiet.dim))
    y[0, :6] = [0.3, 0.2, np.pi, -3.0, 0.5, 0.0]
    y[1, :6] = [0.3, 0.2, np.pi, 0.305, 0.2, 0.0]   # agent 2 right behind agent 1
    speed = np.hypot(*quiet.rhs(0.0, y)[:, :2].T)
    np.testing.assert_allclose(speed[0], np.tanh(0.05), rtol=1e-12)   # far apart: free speed tanh(k_v)
    assert speed[1] < speed[0] - 1e-5


def test_multi_agent_trajectory_is_smooth_and_bounded() -> None:
    s = systems.get("multi_agent")
    y0 = s.initial_conditions(1, 0)[0]
    sol = integrate(s, y0, 2.0, rtol=1e-8, atol=1e-10)
    speeds = np.abs(s.rhs(0.0, sol.y.T)[:, : 3 * s.params.n_agents])
    assert speeds.max() <= 1.0            # |ν|, |ω| < 1 through tanh
    inv0, inv1 = s.invariants(y0), s.invariants(sol.y[:, -1])
    for key in inv0:
        assert abs(inv1[key] - inv0[key]) <= 1e-7
