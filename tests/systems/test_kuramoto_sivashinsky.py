"""Kuramoto–Sivashinsky: presets, spectral operators against exact derivatives, dealiasing, Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pysciml.systems as systems

CONFIGS = [{"preset": "linot"}, {"preset": "lpsda"}, {"preset": "linot", "dealias": True},
           {"preset": "lpsda", "dealias": True}]


def test_presets() -> None:
    linot, lpsda = systems.get("kuramoto_sivashinsky"), systems.get("kuramoto_sivashinsky", preset="lpsda")
    assert (linot.params.L, linot.dim, linot.params.dealias) == (22.0, 64, False)
    assert (lpsda.params.L, lpsda.dim) == (64.0, 256)
    custom = systems.get("kuramoto_sivashinsky", preset="lpsda", L=50.0, N=128)
    assert (custom.params.L, custom.dim) == (50.0, 128)
    assert linot.stiff and linot.semilinear


@pytest.mark.parametrize("params", CONFIGS)
def test_rhs_matches_exact_derivatives_of_a_smooth_field(params: dict) -> None:
    """u = a sin(k1 x) + b cos(k2 x): u², u_x, u_xx, u_xxxx are resolved exactly (well below N/3)."""
    s = systems.get("kuramoto_sivashinsky", **params)
    x, length = s.grid(), s.params.L
    k1, k2 = 2 * np.pi / length, 6 * np.pi / length
    u = 0.7 * np.sin(k1 * x) - 0.4 * np.cos(k2 * x)
    ux = 0.7 * k1 * np.cos(k1 * x) + 0.4 * k2 * np.sin(k2 * x)
    uxx = -0.7 * k1 ** 2 * np.sin(k1 * x) + 0.4 * k2 ** 2 * np.cos(k2 * x)
    uxxxx = 0.7 * k1 ** 4 * np.sin(k1 * x) - 0.4 * k2 ** 4 * np.cos(k2 * x)
    np.testing.assert_allclose(s.rhs(0.0, u[None])[0], -u * ux - uxx - uxxxx, atol=1e-12)
    np.testing.assert_allclose(s.nonlinear(0.0, u[None])[0], -u * ux, atol=1e-13)


@pytest.mark.parametrize("params", CONFIGS)
def test_fourier_symbol_diagonalises_the_linear_operator(params: dict) -> None:
    s = systems.get("kuramoto_sivashinsky", **params)
    k, sym = s.wavenumbers(), s.fourier_symbol()
    assert k.shape == sym.shape == (s.dim // 2 + 1,)
    np.testing.assert_allclose(k, 2 * np.pi * np.arange(s.dim // 2 + 1) / s.params.L)
    np.testing.assert_allclose(sym, k ** 2 - k ** 4)
    lin = s.linear_operator()
    np.testing.assert_allclose(lin, lin.T, atol=1e-9)                       # symmetric circulant
    np.testing.assert_allclose(np.roll(np.roll(lin, 1, 0), 1, 1), lin, atol=1e-9)
    x = s.grid()
    for m in (1, 5, s.dim // 2):
        mode = np.cos(k[m] * x)
        np.testing.assert_allclose(lin @ mode, sym[m] * mode, atol=1e-9 * abs(sym[m]))
    eig = np.sort(np.linalg.eigvalsh(lin))
    np.testing.assert_allclose(eig[0], sym[-1], rtol=1e-10)                # stiffest mode: Nyquist


def test_dealiasing_removes_only_the_top_third() -> None:
    plain = systems.get("kuramoto_sivashinsky")
    dealiased = systems.get("kuramoto_sivashinsky", dealias=True)
    x, length = plain.grid(), plain.params.L
    low = np.sin(2 * np.pi * 3 * x / length)[None]             # u² has modes 0 and 6 < 64/3
    np.testing.assert_allclose(dealiased.rhs(0.0, low), plain.rhs(0.0, low), atol=1e-12)
    high = np.sin(2 * np.pi * 15 * x / length)[None]           # u² has mode 30 >= 64/3: removed
    spec = np.fft.rfft(dealiased.nonlinear(0.0, high)[0])
    assert np.abs(spec[22:]).max() < 1e-10 and np.abs(np.fft.rfft(plain.nonlinear(0.0, high)[0])[30]) > 1.0


@pytest.mark.parametrize("params", CONFIGS)
def test_torch_rhs_jacobian_and_split(params: dict) -> None:
    s = systems.get("kuramoto_sivashinsky", **params)
    y = s.initial_conditions(16, 3)
    f = s.rhs(0.0, y)
    rounding = 4 * np.finfo(np.float64).eps * np.abs(s.fourier_symbol()).max() * np.abs(y).max()
    diff = np.abs(s.rhs_torch(0.0, torch.from_numpy(y)).numpy() - f).max()
    assert diff <= 1e-12 + rounding          # measured: ~2e-12 (N = 64), ~8e-12 (N = 256)
    split = y @ s.linear_operator().T + s.nonlinear(0.0, y)
    np.testing.assert_allclose(split, f, atol=1e-10 * np.abs(f).max())
    jac = s.jacobian(0.0, y)
    auto = torch.autograd.functional.jacobian(lambda v: s.rhs_torch(0.0, v[None])[0], torch.from_numpy(y[0]))
    assert np.abs(auto.numpy() - jac[0]).max() <= 1e-6 * np.abs(jac[0]).max()
    v = np.random.default_rng(0).standard_normal(s.dim)
    h = 1e-6
    fd = (s.rhs(0.0, y[1:] + h * v) - s.rhs(0.0, y[1:] - h * v))[0] / (2 * h)
    assert np.abs(fd - jac[1] @ v).max() <= 1e-6 * np.abs(jac[1] @ v).max()


def test_mean_is_conserved_and_initial_conditions_follow_lpsda() -> None:
    s = systems.get("kuramoto_sivashinsky", preset="lpsda", burn_in=0.0)  # the raw random-sine recipe
    y = s.initial_conditions(50, 0)
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-13)                 # sines on a full period
    np.testing.assert_allclose(s.rhs(0.0, y).sum(-1), 0.0, atol=1e-10)
    spec = np.abs(np.fft.rfft(y, axis=-1))
    assert spec[:, 3:].max() < 1e-10 * spec.max()                          # only wavenumbers l ∈ {1, 2}
    assert np.abs(y).max() <= 5.0                                          # Σ of 10 terms with |A| <= 0.5
    linot = systems.get("kuramoto_sivashinsky").initial_conditions(50, 0)
    lspec = np.abs(np.fft.rfft(linot, axis=-1))
    assert lspec[:, 4:].max() < 1e-10 * lspec.max() and lspec[:, 3].max() > 0.1


def test_burn_in_lands_on_the_chaotic_attractor() -> None:
    s = systems.get("kuramoto_sivashinsky", burn_in=20.0)
    y = s.initial_conditions(1, 0)
    cold = systems.get("kuramoto_sivashinsky").initial_conditions(1, 0)
    np.testing.assert_allclose(y.mean(), cold.mean(), atol=1e-9)           # mean conserved through burn-in
    assert not np.allclose(y, cold)
    assert np.all(np.isfinite(y)) and 0.3 < np.abs(y).max() < 5.0          # attractor amplitude ~ 2–3
    # excitation spreads beyond the initial modes 1..3
    assert np.abs(np.fft.rfft(y[0]))[4:12].max() > 1e-2
