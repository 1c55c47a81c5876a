"""Contract tests run over every catalogue system: numpy/torch agreement, Jacobians, split, ICs, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pysciml.systems as systems
from pysciml.errors import UnknownNameError, ValidationError

NAMES = systems.available()
EXPECTED = {"robertson", "kuramoto_sivashinsky", "two_body", "rigid_body", "transient_growth", "vehicle",
            "multi_agent"}


def sample_states(system: systems.System, n: int = 3, seed: int = 11) -> np.ndarray:
    """Initial conditions, slightly perturbed so that no component sits at an exact zero."""
    y = system.initial_conditions(n, seed)
    rng = np.random.default_rng(seed + 1)
    return y + 1e-2 * np.maximum(np.abs(y), 1e-2) * rng.standard_normal(y.shape)


def spectral_rounding(s: systems.System, y: np.ndarray) -> float:
    """Rounding scale ``4 ε max|symbol| max|u|`` of a pseudo-spectral field (0 for other systems).

    Two FFT libraries (numpy's pocketfft, torch's MKL) round the high modes differently and the KS
    symbol ``k² - k⁴`` amplifies that by up to 2.5e4 (N = 256), so they can only agree to this level.
    """
    if not hasattr(s, "fourier_symbol"):
        return 0.0
    return 4 * np.finfo(np.float64).eps * float(np.abs(s.fourier_symbol()).max() * np.abs(y).max())


def test_catalogue_lists_every_system() -> None:
    assert EXPECTED <= set(NAMES)
    assert NAMES == sorted(NAMES)


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(UnknownNameError, match="two_body") as info:
        systems.get("three_body")
    assert isinstance(info.value, ValueError)


def test_get_is_case_insensitive_and_passes_instances() -> None:
    s = systems.get("Two_Body")
    assert isinstance(s, systems.TwoBody)
    assert systems.get(s) is s


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="valid parameters"):
        systems.get(name, not_a_parameter=1.0)


BAD_PARAMS = [
    ("kuramoto_sivashinsky", {"preset": "nope"}), ("kuramoto_sivashinsky", {"N": 63}),
    ("kuramoto_sivashinsky", {"L": -1.0}), ("kuramoto_sivashinsky", {"dealias": "yes"}),
    ("kuramoto_sivashinsky", {"burn_in": -1.0}),
    ("two_body", {"eccentricity": (0.5, 1.0)}), ("two_body", {"eccentricity": (0.7, 0.5)}),
    ("rigid_body", {"inertia": (1.0, 0.0, 1.0)}), ("rigid_body", {"inertia": (1.0, 2.0)}),
    ("rigid_body", {"phi_range": (float("nan"), 1.0)}),
    ("transient_growth", {"variant": "explode"}), ("transient_growth", {"eigenvalue": 0.5}),
    ("transient_growth", {"ic_scale": 0.0}),
    ("vehicle", {"mass": 0.0}), ("vehicle", {"n_harmonics": -1}), ("vehicle", {"damping": -1.0}),
    ("multi_agent", {"n_agents": 1}), ("multi_agent", {"l_s": 0.0}), ("multi_agent", {"avoidance": "x"}),
    ("multi_agent", {"k_v": float("inf")}), ("robertson", {"k1": -1.0}),
]


@pytest.mark.parametrize(("name", "params"), BAD_PARAMS)
def test_bad_parameters_raise_validation_error(name: str, params: dict) -> None:
    with pytest.raises(ValidationError, match=next(iter(params)).split("_")[0]):
        systems.get(name, **params)


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip_through_metadata(name: str) -> None:
    s = systems.get(name)
    again = systems.get(s.metadata()["name"], **s.metadata()["params"])
    assert again.params == s.params
    assert len(s.state_names()) == s.dim


@pytest.mark.parametrize("name", NAMES)
def test_initial_conditions_deterministic_per_seed(name: str) -> None:
    s = systems.get(name)
    a, b, c = s.initial_conditions(4, 7), s.initial_conditions(4, 7), s.initial_conditions(4, 8)
    assert a.shape == (4, s.dim) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("name", NAMES)
def test_numpy_and_torch_rhs_agree(name: str) -> None:
    s = systems.get(name)
    y = sample_states(s)
    f_np = s.rhs(0.0, y)
    f_t = s.rhs_torch(torch.zeros(3, dtype=torch.float64), torch.from_numpy(y))
    assert f_np.shape == y.shape and f_t.dtype == torch.float64
    scale = max(1.0, float(np.abs(f_np).max()))
    np.testing.assert_allclose(f_t.numpy(), f_np, rtol=0, atol=1e-12 * scale + spectral_rounding(s, y))
    # a [batch] time array is accepted too, and batching does not mix samples
    np.testing.assert_allclose(s.rhs(np.zeros(3), y)[1:2], s.rhs(0.0, y[1:2]), rtol=0, atol=1e-13 * scale)


def fd_jacobian(s: systems.System, y: np.ndarray) -> np.ndarray:
    """Central differences, step scaled per component."""
    h = 1e-6 * np.maximum(np.abs(y), 1e-3)
    jac = np.empty((y.shape[0], s.dim, s.dim))
    for j in range(s.dim):
        e = np.zeros(s.dim)
        e[j] = 1.0
        step = h[:, j:j + 1]
        jac[:, :, j] = (s.rhs(0.0, y + step * e) - s.rhs(0.0, y - step * e)) / (2 * step)
    return jac


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_matches_finite_differences_and_autograd(name: str) -> None:
    s = systems.get(name)
    y = sample_states(s, n=2)
    jac = s.jacobian(0.0, y)
    assert jac.shape == (2, s.dim, s.dim)
    assert rel_err(fd_jacobian(s, y), jac) < 1e-6
    for b in range(2):
        auto = torch.autograd.functional.jacobian(
            lambda v: s.rhs_torch(0.0, v[None])[0], torch.from_numpy(y[b])).numpy()
        assert rel_err(auto, jac[b]) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_jvp_matches_the_analytic_jacobian(name: str) -> None:
    """``jvp_torch`` (forward-mode autodiff, or a closed form such as Kuramoto–Sivashinsky's) is ``J(y) v``."""
    system = systems.get(name)
    y = system.initial_conditions(3, seed=1)
    v = np.random.default_rng(2).standard_normal(y.shape)
    got = system.jvp_torch(0.0, torch.as_tensor(y), torch.as_tensor(v)).numpy()
    want = np.einsum("bij,bj->bi", system.jacobian(0.0, y), v)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("name", [n for n in NAMES if systems.get(n).semilinear])
def test_semilinear_split_is_consistent(name: str) -> None:
    s = systems.get(name)
    y = sample_states(s)
    lin = s.linear_operator()
    assert lin.shape == (s.dim, s.dim)
    full = s.rhs(0.0, y)
    split = y @ lin.T + s.nonlinear(0.0, y)
    np.testing.assert_allclose(split, full, rtol=0, atol=1e-11 * max(1.0, np.abs(full).max()))
    n_t = s.nonlinear_torch(0.0, torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(n_t, s.nonlinear(0.0, y), rtol=0, atol=1e-12 * max(1.0, np.abs(full).max()))


@pytest.mark.parametrize("name", [n for n in NAMES if not systems.get(n).semilinear])
def test_non_semilinear_systems_say_so(name: str) -> None:
    with pytest.raises(NotImplementedError):
        systems.get(name).linear_operator()


SMALL = [n for n in NAMES if systems.get(n).dim <= 20]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SMALL), seed=st.integers(0, 10_000), scale=st.floats(0.2, 2.0))
def test_jacobian_property(name: str, seed: int, scale: float) -> None:
    """Jacobian–vector products agree with directional differences at random (scaled) states."""
    s = systems.get(name)
    y = s.initial_conditions(1, seed) * scale
    if name == "robertson":           # keep the concentrations physical
        y = np.abs(y) + 1e-3
    v = np.random.default_rng(seed).standard_normal(s.dim)
    h = 1e-6 / np.linalg.norm(v)
    jv = s.jacobian(0.0, y)[0] @ v
    fd = (s.rhs(0.0, y + h * v) - s.rhs(0.0, y - h * v))[0] / (2 * h)
    assert np.abs(jv - fd).max() <= 1e-6 * max(1.0, np.abs(jv).max())


@pytest.mark.parametrize(("name", "dim"), [("vehicle", 6), ("multi_agent", 30)])
def test_unforced_variants_have_the_physical_dimension(name: str, dim: int) -> None:
    s = systems.get(name, n_harmonics=0)
    y = sample_states(s)
    assert s.dim == dim and s.invariants(y) == {}
    jac = s.jacobian(0.0, y)
    assert rel_err(fd_jacobian(s, y), jac) < 1e-6
    np.testing.assert_allclose(s.rhs_torch(0.0, torch.from_numpy(y)).numpy(), s.rhs(0.0, y), atol=1e-14)
