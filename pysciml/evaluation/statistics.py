"""Long-time statistics of Kuramoto–Sivashinsky fields, for chaotic rollouts that cannot match pointwise.

Alvarez Loya, Serino, Burby, Tang, "Structure-Preserving Neural ODEs for Stiff Systems" (arXiv:2503.01775),
§5.3 and Fig. 8, judge a KS model by the joint probability density of ``(u_x, u_xx)`` over all grid points and
snapshots of a long trajectory, against the truth's; Linot & Graham (arXiv:2001.04263, 2203.15706) add the
energy spectrum and temporal autocorrelation. For fields ``u [..., N]`` on the periodic grid ``x_j = j L / N``:

* spectral derivatives with ``k_m = 2π m / L`` on the ``rfft`` modes ``m = 0..N/2``: ``u_x = irfft(i k û)`` with
  the Nyquist mode zeroed (odd derivative, as ``scipy.fftpack.diff`` and the systems' own field do),
  ``u_xx = irfft(−k² û)``;
* joint PDF: normalised 2-D histogram of the samples ``(u_x, u_xx)`` on a *fixed* grid of bins (the same grid
  for every field compared); the mass of samples outside the grid is kept as one extra cell so that the cell
  probabilities ``p`` sum to 1;
* Hellinger distance ``H(p, q) = sqrt(1 − Σ_c sqrt(p_c q_c))`` in ``[0, 1]`` (symmetric, no smoothing needed);
* Kullback–Leibler divergence with smoothing: ``p̃ = (1 − s) p + s / K`` (a mixture with the uniform law over
  the ``K`` cells, ``s = smoothing``, default 1e-6), ``KL(p ‖ q) = Σ_c p̃_c log(p̃_c / q̃_c)`` (nats), finite
  for every pair and bounded by ``log(K / s)``;
* energy spectrum ``E_m = c_m ⟨|û_m|²⟩ / N²`` with ``c_0 = c_{N/2} = 1`` and ``c_m = 2`` otherwise, so that
  ``Σ_m E_m = ⟨(1/N) Σ_j u_j²⟩`` (Parseval); ``⟨·⟩`` averages over snapshots;
* temporal autocorrelation ``C(τ) = ⟨u'(x, t) u'(x, t + τ)⟩ / ⟨u'(x, t)²⟩`` with ``u' = u − ⟨u⟩`` (mean over
  trajectories, times and grid points), for lags ``τ = 0, 1, …`` snapshot spacings.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..validation import check_positive_int
from .plots import pyplot, save_and_close

__all__ = ["JointPDF", "autocorrelation", "energy_spectrum", "hellinger", "joint_pdf", "kl_divergence",
           "pdf_grid", "spectral_derivatives", "plot_joint_pdfs"]


def _fields(u: Any) -> np.ndarray:
    arr = np.asarray(u, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] < 4 or arr.shape[-1] % 2:
        raise ValidationError(f"u must be fields [..., N] on an even number N >= 4 of grid points, got {arr.shape}")
    return arr


def _check_length(length: float) -> float:
    if not (math.isfinite(float(length)) and float(length) > 0):
        raise ValidationError(f"L (domain length) must be a positive number, got {length!r}")
    return float(length)


def spectral_derivatives(u: Any, length: float) -> tuple[np.ndarray, np.ndarray]:
    """``(u_x, u_xx)`` of periodic fields ``u [..., N]`` on ``[0, L)`` (spectral; Nyquist of ``u_x`` zeroed)."""
    arr, length = _fields(u), _check_length(length)
    n = arr.shape[-1]
    k = 2.0 * np.pi * np.arange(n // 2 + 1) / length
    ik = 1j * k
    ik[-1] = 0.0
    uh = np.fft.rfft(arr, axis=-1)
    return np.fft.irfft(ik * uh, n=n, axis=-1), np.fft.irfft(-(k ** 2) * uh, n=n, axis=-1)


@dataclasses.dataclass(frozen=True)
class JointPDF:
    """2-D histogram density of ``(u_x, u_xx)``.

    Attributes:
        density: ``[nx, nxx]`` density on the bins (integrates to ``1 − outside``).
        edges_x, edges_xx: bin edges ``[nx + 1]``, ``[nxx + 1]``.
        outside: fraction of samples outside the grid.
        n_samples: number of ``(x, t)`` samples.
    """

    density: np.ndarray
    edges_x: np.ndarray
    edges_xx: np.ndarray
    outside: float
    n_samples: int

    def probabilities(self) -> np.ndarray:
        """Cell probabilities ``[nx * nxx + 1]`` (the last cell is the outside mass); they sum to 1."""
        area = np.outer(np.diff(self.edges_x), np.diff(self.edges_xx))
        return np.append((self.density * area).ravel(), self.outside)


def pdf_grid(u_x_range: tuple[float, float], u_xx_range: tuple[float, float],
             bins: int | tuple[int, int] = 64) -> tuple[np.ndarray, np.ndarray]:
    """Fixed bin edges ``(edges_x, edges_xx)`` over the given ranges (``bins`` per axis)."""
    nb = (bins, bins) if isinstance(bins, (int, np.integer)) else tuple(bins)
    if len(nb) != 2:
        raise ValidationError(f"bins must be an int or a pair of ints, got {bins!r}")
    edges = []
    for name, rng, b in (("u_x_range", u_x_range, nb[0]), ("u_xx_range", u_xx_range, nb[1])):
        lo, hi = (float(v) for v in rng)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValidationError(f"{name} must be (low, high) with low < high, got {rng!r}")
        edges.append(np.linspace(lo, hi, check_positive_int(b, "bins") + 1))
    return edges[0], edges[1]


def joint_pdf(u: Any, length: float, edges: tuple[np.ndarray, np.ndarray]) -> JointPDF:
    """Joint PDF of ``(u_x, u_xx)`` over every grid point and snapshot of ``u [..., N]`` on the fixed ``edges``.

    Non-finite fields (a blown-up rollout) are rejected: compare statistics of rollouts that stayed finite.
    """
    arr = _fields(u)
    if not np.all(np.isfinite(arr)):
        raise ValidationError("u contains non-finite values (a diverged rollout); drop those trajectories first")
    ux, uxx = spectral_derivatives(arr, length)
    ex, exx = (np.asarray(e, dtype=np.float64) for e in edges)
    hist, _, _ = np.histogram2d(ux.ravel(), uxx.ravel(), bins=(ex, exx))
    n = ux.size
    area = np.outer(np.diff(ex), np.diff(exx))
    return JointPDF(hist / (n * area), ex, exx, float(1.0 - hist.sum() / n), int(n))


def _pair(p: JointPDF, q: JointPDF) -> tuple[np.ndarray, np.ndarray]:
    if not (np.array_equal(p.edges_x, q.edges_x) and np.array_equal(p.edges_xx, q.edges_xx)):
        raise ValidationError("the two PDFs are on different grids; build both with the same edges (pdf_grid)")
    return p.probabilities(), q.probabilities()


def hellinger(p: JointPDF, q: JointPDF) -> float:
    """Hellinger distance ``sqrt(1 − Σ sqrt(p_c q_c))`` between two PDFs on the same grid, in ``[0, 1]``."""
    a, b = _pair(p, q)
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(a * b))))))


def kl_divergence(p: JointPDF, q: JointPDF, smoothing: float = 1e-6) -> float:
    """``KL(p̃ ‖ q̃)`` in nats with ``p̃ = (1 − s) p + s / K`` (``s = smoothing`` in ``(0, 1)``, ``K`` cells)."""
    if not (0.0 < float(smoothing) < 1.0):
        raise ValidationError(f"smoothing must lie in (0, 1), got {smoothing!r}")
    a, b = _pair(p, q)
    s = float(smoothing)
    a, b = (1 - s) * a + s / a.size, (1 - s) * b + s / b.size
    return float(np.sum(a * np.log(a / b)))


def energy_spectrum(u: Any, length: float) -> tuple[np.ndarray, np.ndarray]:
    """``(k [N/2 + 1], E [N/2 + 1])``: snapshot-averaged one-sided spectrum with ``Σ E = ⟨mean(u²)⟩``."""
    arr, length = _fields(u), _check_length(length)
    n = arr.shape[-1]
    power = np.abs(np.fft.rfft(arr.reshape(-1, n), axis=-1)) ** 2 / n ** 2
    power[:, 1:-1] *= 2.0
    return 2.0 * np.pi * np.arange(n // 2 + 1) / length, power.mean(axis=0)


def autocorrelation(u: Any, max_lag: int) -> np.ndarray:
    """``C(τ)`` for ``τ = 0..max_lag`` snapshot spacings of ``u [n, T, N]`` (or ``[T, N]``): ``[max_lag + 1]``."""
    arr = _fields(u)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValidationError(f"u must have shape [n, T, N] or [T, N], got {arr.shape}")
    max_lag = check_positive_int(max_lag, "max_lag")
    if max_lag >= arr.shape[1]:
        raise ValidationError(f"max_lag={max_lag} needs more than {max_lag} snapshots, got {arr.shape[1]}")
    v = arr - arr.mean()
    var = float(np.mean(v * v))
    if var == 0:
        raise ValidationError("u is constant: its autocorrelation is undefined")
    return np.array([np.mean(v[:, lag:] * v[:, :v.shape[1] - lag]) / var for lag in range(max_lag + 1)])


def plot_joint_pdfs(pdfs: dict[str, JointPDF], path: str | Path, title: str = "") -> Path:
    """Side-by-side filled contours of ``log10`` of the joint PDFs of ``(u_x, u_xx)`` (like seed 003 Fig. 8)."""
    fig, axes = pyplot().subplots(1, len(pdfs), figsize=(4.2 * len(pdfs), 3.8), squeeze=False, sharey=True,
                             layout="constrained")
    floor = min(float(p.density[p.density > 0].min()) for p in pdfs.values() if np.any(p.density > 0))
    top = max(float(p.density.max()) for p in pdfs.values())
    levels = np.linspace(math.log10(floor), math.log10(top), 13)
    for ax, (name, p) in zip(axes[0], pdfs.items(), strict=True):
        cx, cxx = 0.5 * (p.edges_x[1:] + p.edges_x[:-1]), 0.5 * (p.edges_xx[1:] + p.edges_xx[:-1])
        with np.errstate(divide="ignore"):
            z = np.log10(p.density.T)
        cs = ax.contourf(cx, cxx, np.where(np.isfinite(z), z, levels[0] - 1), levels=levels, cmap="viridis",
                         extend="min")
        ax.set_title(name)
        ax.set_xlabel(r"$u_x$ (field units / length)")
    axes[0, 0].set_ylabel(r"$u_{xx}$ (field units / length$^2$)")
    fig.colorbar(cs, ax=axes[0].tolist(), label=r"$\log_{10}$ PDF")
    if title:
        fig.suptitle(title)
    return save_and_close(fig, path)
