"""Legendre / Gauss–Lobatto machinery: exactness, convergence, multi-element, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pysciml.errors import ValidationError
from pysciml.spectral import SpectralMesh, gauss_lobatto, legendre_table


@pytest.mark.parametrize("p", [2, 5, 14, 30])
def test_lgl_nodes_are_roots_of_dP_and_weights_sum_to_two(p: int) -> None:
    tau, w = gauss_lobatto(p)
    assert tau[0] == -1.0 and tau[-1] == 1.0 and np.all(np.diff(tau) > 0)
    np.testing.assert_allclose(legendre_table(p, tau[1:-1])[1][:, p], 0.0, atol=1e-11 * p * p)
    np.testing.assert_allclose(w, w[::-1], atol=1e-15)
    assert abs(w.sum() - 2.0) < 1e-13


def test_legendre_values_match_numpy_and_derivatives_match_finite_differences() -> None:
    tau = np.linspace(-1, 1, 41)
    val, der = legendre_table(12, tau)
    for i in range(13):
        ref = np.polynomial.legendre.Legendre.basis(i)
        np.testing.assert_allclose(val[:, i], ref(tau), atol=1e-13)
        np.testing.assert_allclose(der[:, i], ref.deriv()(tau), atol=1e-11)


@pytest.mark.parametrize(("p", "span", "n_el"), [(14, (0.0, 10.0), 1), (6, (-1.0, 2.5), 1), (8, (0.0, 3.0), 3),
                                                 (30, (2.0, 5.0), 1)])
def test_derivative_matrix_is_exact_on_polynomials_of_degree_le_p(p: int, span: tuple, n_el: int) -> None:
    mesh = SpectralMesh(span, p=p, n_elements=n_el)
    rng = np.random.default_rng(p)
    mid = 0.5 * (span[0] + span[1])
    half = 0.5 * (span[1] - span[0])
    for deg in range(p + 1):
        poly = np.polynomial.Polynomial(rng.standard_normal(deg + 1))
        # a polynomial in the scaled variable keeps values O(1) on the interval
        x = torch.as_tensor(poly((mesh.nodes.numpy() - mid) / half))[None, :, None]
        want = poly.deriv()((mesh.node_times().numpy() - mid) / half) / half
        got = mesh.derivative(x)[0, :, :, 0].numpy()
        assert np.abs(got - want).max() <= 1e-12 * max(1.0, np.abs(want).max()) * p, (deg, p)


@pytest.mark.parametrize("p", [3, 8, 14])
def test_quadrature_exact_to_degree_2p_minus_1_and_not_beyond(p: int) -> None:
    mesh = SpectralMesh((1.0, 4.0), p=p)
    t = mesh.node_times()
    s = (t - 2.5) / 1.5                                   # scaled variable on [-1, 1]
    for deg in range(2 * p):
        exact = 1.5 * (1 - (-1) ** (deg + 1)) / (deg + 1)  # ∫_1^4 s^deg dt
        assert abs(float(mesh.integrate(s ** deg)) - exact) < 1e-13 * max(1.0, abs(exact))
    exact = 1.5 * 2 / (2 * p + 1)
    assert abs(float(mesh.integrate(s ** (2 * p))) - exact) > 1e-8     # degree 2p is not integrated exactly


def test_interpolation_error_decays_exponentially_with_p_at_the_bernstein_ellipse_rate() -> None:
    """f(t) = 1/(1 + 4 s²), s = t − 1 ∈ [−1, 1], has poles at s = ±i/2: the error decays like ρ^(−p),
    ρ = 1/2 + √(5/4) (the Bernstein ellipse through the poles); the measured slope must match it."""
    t = torch.linspace(0.0, 2.0, 401, dtype=torch.float64)
    f = lambda u: 1.0 / (1.0 + 4.0 * (u - 1.0) ** 2)   # noqa: E731
    ps = np.arange(6, 31, 2)
    errs = np.array([float((SpectralMesh((0.0, 2.0), p=int(p)).evaluate(
        f(SpectralMesh((0.0, 2.0), p=int(p)).nodes)[None, :, None], t)[0, :, 0] - f(t)).abs().max()) for p in ps])
    slope = np.polyfit(ps, np.log10(errs), 1)[0]
    rate = -np.log10(0.5 + np.sqrt(1.25))
    assert abs(slope - rate) < 0.15 * abs(rate), (slope, rate, errs)
    assert errs[-1] < 1e-4 * errs[0]


def test_multi_element_mesh_is_continuous_and_matches_the_function() -> None:
    mesh = SpectralMesh((0.0, 6.0), p=10, n_elements=4)
    assert mesh.n_nodes == 41 and float(mesh.nodes[0]) == 0.0 and float(mesh.nodes[-1]) == 6.0
    assert torch.all(torch.diff(mesh.nodes) > 0)
    x = torch.sin(mesh.nodes)[None, :, None]
    t = torch.linspace(0.0, 6.0, 97, dtype=torch.float64)
    assert float((mesh.evaluate(x, t)[0, :, 0] - torch.sin(t)).abs().max()) < 1e-8
    # the discrete Legendre transform inverts M
    np.testing.assert_allclose((mesh.M_inv @ mesh.M).numpy(), np.eye(11), atol=1e-13)
    np.testing.assert_allclose((mesh.M @ mesh.coefficients(x)).numpy(), mesh.element_values(x).numpy(),
                               atol=1e-13)


def test_least_squares_fit_recovers_a_polynomial_from_non_node_samples_and_pins_x0() -> None:
    mesh = SpectralMesh((0.0, 10.0), p=14)
    t = torch.linspace(0.0, 10.0, 25, dtype=torch.float64)
    coef = torch.randn(2, 15, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    psi = torch.as_tensor(legendre_table(14, (t.numpy() - 5.0) / 5.0)[0])
    y = torch.einsum("ti,bin->btn", psi, coef)
    x = mesh.fit(t, y)
    np.testing.assert_allclose(mesh.coefficients(x)[:, 0].numpy(), coef.numpy(), atol=1e-9)
    y_noisy = y + 0.1 * torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pinned = mesh.fit(t, y_noisy, pin_start=True)
    np.testing.assert_array_equal(pinned[:, 0].numpy(), y_noisy[:, 0].numpy())


def test_bad_input_raises_validation_errors() -> None:
    with pytest.raises(ValidationError, match="p .* must be >= 2"):
        SpectralMesh((0.0, 1.0), p=1)
    with pytest.raises(ValidationError, match="t1 > t0"):
        SpectralMesh((1.0, 1.0))
    mesh = SpectralMesh((0.0, 1.0), p=4)
    with pytest.raises(ValidationError, match="outside the spectral mesh"):
        mesh.interpolation_matrix([0.5, 1.2])
    with pytest.raises(ValidationError, match="mesh nodes"):
        mesh.derivative(torch.zeros(1, 4, 2, dtype=torch.float64))
    with pytest.raises(ValidationError, match="samples per trajectory"):
        mesh.fit([0.0, 0.5], torch.zeros(1, 3, 2, dtype=torch.float64))
