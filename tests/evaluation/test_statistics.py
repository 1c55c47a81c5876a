"""KS statistics: spectral derivatives, PDFs and distances, spectrum, autocorrelation; truth vs damped field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pysciml import odeint, systems
from pysciml.errors import ValidationError
from pysciml.evaluation.statistics import (
    JointPDF,
    autocorrelation,
    energy_spectrum,
    hellinger,
    joint_pdf,
    kl_divergence,
    pdf_grid,
    plot_joint_pdfs,
    spectral_derivatives,
)
from pysciml.integrators import FourierMultiplier, SplitField

L = 22.0


def test_spectral_derivatives_of_a_fourier_mode_are_exact():
    n, m = 64, 3
    x = np.arange(n) * L / n
    k = 2 * np.pi * m / L
    u = np.sin(k * x) + 0.7
    ux, uxx = spectral_derivatives(u[None], L)
    np.testing.assert_allclose(ux[0], k * np.cos(k * x), atol=1e-12)
    np.testing.assert_allclose(uxx[0], -k * k * np.sin(k * x), atol=1e-12)
    # the Nyquist mode (cos(π j)) has no first derivative on the grid, and -k² for the second
    nyq = np.cos(np.pi * np.arange(n))
    ux, uxx = spectral_derivatives(nyq, L)
    np.testing.assert_allclose(ux, 0.0, atol=1e-12)
    np.testing.assert_allclose(uxx, -(np.pi * n / L) ** 2 * nyq, atol=1e-9)


def test_energy_spectrum_satisfies_parseval():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((5, 7, 32))
    k, e = energy_spectrum(u, L)
    assert k.shape == e.shape == (17,)
    assert e.sum() == pytest.approx(float(np.mean(u ** 2)), rel=1e-12)
    x = np.arange(32) * L / 32
    _, e1 = energy_spectrum(2.0 * np.cos(2 * np.pi * 4 * x / L), L)  # amplitude 2: mean(u²) = 2, all in m = 4
    assert e1[4] == pytest.approx(2.0) and e1.sum() == pytest.approx(2.0)


def test_autocorrelation_of_a_standing_wave():
    t = np.arange(400) * 0.05
    x = np.arange(16) * L / 16
    u = np.cos(1.3 * t)[:, None] * np.sin(2 * np.pi * x / L)[None, :]
    c = autocorrelation(u, 40)
    assert c[0] == pytest.approx(1.0)
    np.testing.assert_allclose(c, np.cos(1.3 * 0.05 * np.arange(41)), atol=0.12)


def test_pdf_normalisation_and_distance_properties():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 32))
    edges = pdf_grid((-2.0, 2.0), (-2.0, 2.0), 16)
    pa = joint_pdf(a, L, edges)
    assert pa.probabilities().sum() == pytest.approx(1.0)
    assert 0.0 <= pa.outside < 1.0 and pa.n_samples == a.size
    assert hellinger(pa, pa) == pytest.approx(0.0, abs=1e-7) and kl_divergence(pa, pa) == pytest.approx(0.0)
    # disjoint supports: Hellinger is 1, KL is bounded by log(K / s) thanks to the smoothing
    e = np.linspace(0.0, 1.0, 3)
    p = JointPDF(np.array([[2.0, 0.0], [0.0, 0.0]]), e, e, 0.5, 10)
    q = JointPDF(np.array([[0.0, 0.0], [0.0, 4.0]]), e, e, 0.0, 10)
    assert hellinger(p, q) == pytest.approx(1.0)
    assert 0 < kl_divergence(p, q, smoothing=1e-6) <= math.log(5 / 1e-6)
    with pytest.raises(ValidationError, match="grid"):
        hellinger(pa, joint_pdf(a, L, pdf_grid((-1.0, 1.0), (-2.0, 2.0), 16)))
    with pytest.raises(ValidationError, match="non-finite"):
        joint_pdf(np.full((2, 8), np.nan), L, edges)
    with pytest.raises(ValidationError, match="smoothing"):
        kl_divergence(pa, pa, smoothing=0.0)


def _ks_run(seeds: tuple[int, ...], n: int, t1: float, damping: float = 0.0) -> np.ndarray:
    """KS (L = 22, N = 64) snapshots every 1.0 after a transient of 50, ETDRK4 with step 0.25, ``n`` initial
    fields per seed in one batch → ``[len(seeds) * n, T, 64]``; ``damping`` adds ``-damping·u`` (a wrong model
    whose attractor is smaller)."""
    ks = systems.get("kuramoto_sivashinsky")
    y0 = torch.as_tensor(np.concatenate([ks.initial_conditions(n, seed=s) for s in seeds]))
    symbol = torch.as_tensor(ks.fourier_symbol() - damping)
    field = SplitField(FourierMultiplier(symbol, ks.dim), ks.nonlinear_torch, autonomous=True)
    t = torch.arange(0.0, t1 + 1e-9, 1.0, dtype=torch.float64)
    return odeint(field, y0, t, method="etdrk4", step_size=0.25).ys[:, 50:].numpy()


def _distances(n: int, t1: float) -> tuple[float, float, float, float]:
    truth_a, truth_b = np.split(_ks_run((1, 2), n, t1), 2)  # two independent sets of initial fields
    damped = _ks_run((1,), n, t1, damping=0.05)
    edges = pdf_grid((-4.0, 4.0), (-4.0, 4.0), 32)
    pa, pb, pd = (joint_pdf(u, L, edges) for u in (truth_a, truth_b, damped))
    return hellinger(pa, pb), hellinger(pa, pd), kl_divergence(pa, pb), kl_divergence(pa, pd)


def test_joint_pdf_separates_truth_from_a_damped_field(tmp_path):
    h_same, h_damped, kl_same, kl_damped = _distances(n=16, t1=150.0)
    assert h_same < 0.06 and h_damped > 4 * h_same
    assert kl_same < 0.02 and kl_damped > 10 * kl_same
    edges = pdf_grid((-4.0, 4.0), (-4.0, 4.0), 32)
    path = plot_joint_pdfs({"truth": joint_pdf(_ks_run((3,), 2, 60.0), L, edges)}, tmp_path / "pdf.png")
    assert path.stat().st_size > 0


@pytest.mark.slow
def test_joint_pdf_separates_truth_from_a_damped_field_long_runs():
    h_same, h_damped, kl_same, kl_damped = _distances(n=32, t1=1050.0)
    assert h_same < 0.02 and h_damped > 10 * h_same
    assert kl_damped > 50 * kl_same
