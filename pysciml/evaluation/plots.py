"""Figures of the evaluation reports (matplotlib Agg, written atomically, labelled axes and legends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io import save_figure

__all__ = ["pyplot", "plot_along_time", "plot_eigenvalues", "plot_error_curves", "plot_final_errors", "plot_lines",
           "save_and_close"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the project's headless (Agg) backend, imported on first use so that importing
    :mod:`pysciml.evaluation` does not touch matplotlib."""
    from ..plotting import plt

    return plt


def save_and_close(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` atomically (120 dpi) and close it."""
    try:
        return save_figure(fig, path, dpi=120)
    finally:
        pyplot().close(fig)


def plot_error_curves(t: np.ndarray, curves: dict[str, dict[str, np.ndarray]], path: str | Path, ylabel: str,
                      time_unit: str = "time units") -> Path:
    """Median with the 25–75 % and 5–95 % bands and the mean over finite trajectories, per named curve set
    (``curves[name]`` holds ``q05, q25, q50, q75, q95, mean_finite`` over ``t``), log-scaled y axis."""
    fig, ax = pyplot().subplots(figsize=(6.5, 4.0))
    for i, (name, c) in enumerate(curves.items()):
        color = f"C{i}"
        ax.fill_between(t, c["q05"], c["q95"], color=color, alpha=0.12, lw=0, label=f"{name}: 5–95 %")
        ax.fill_between(t, c["q25"], c["q75"], color=color, alpha=0.25, lw=0, label=f"{name}: 25–75 %")
        ax.plot(t, c["q50"], color=color, lw=1.5, label=f"{name}: median")
        ax.plot(t, c["mean_finite"], color=color, lw=1.0, ls="--", label=f"{name}: mean (finite)")
    if any(np.any(np.isfinite(c["q95"]) & (c["q95"] > 0)) for c in curves.values()):
        ax.set_yscale("log")  # (all-zero errors, e.g. the true field as model, stay on a linear axis)
    ax.set_xlabel(f"t ({time_unit})")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_and_close(fig, path)


def plot_final_errors(values: dict[str, np.ndarray], path: str | Path, xlabel: str) -> Path:
    """Histogram (log-spaced bins) of final errors per trajectory; non-finite ones are counted in the legend."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.8))
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values.values()])
    lo, hi = (positive.min() / 2, positive.max() * 2) if positive.size else (1e-16, 1.0)
    bins = np.logspace(np.log10(lo), np.log10(hi), 30)
    for name, v in values.items():
        ok = np.isfinite(v)
        ax.hist(np.clip(v[ok], bins[0], None), bins=bins, alpha=0.6,
                label=f"{name} ({int((~ok).sum())} of {v.size} non-finite)")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("trajectories")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_and_close(fig, path)


def plot_eigenvalues(eigs: np.ndarray, times: np.ndarray, path: str | Path, time_unit: str = "time units") -> Path:
    """Eigenvalues of the model's Jacobian along trajectories in the complex plane, coloured by time
    (``eigs [B, T, d]`` complex, ``times [T]``)."""
    fig, ax = pyplot().subplots(figsize=(5.5, 4.2))
    tt = np.broadcast_to(times[None, :, None], eigs.shape)
    sc = ax.scatter(eigs.real.ravel(), eigs.imag.ravel(), c=tt.ravel(), s=4, cmap="viridis", label="eigenvalues")
    ax.axvline(0.0, color="k", lw=0.8, label="Re λ = 0")
    ax.set_xlabel("Re λ (1 / time unit)")
    ax.set_ylabel("Im λ (1 / time unit)")
    fig.colorbar(sc, ax=ax, label=f"t ({time_unit})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_and_close(fig, path)


def plot_along_time(times: np.ndarray, series: dict[str, np.ndarray], path: str | Path, ylabel: str,
                    time_unit: str = "time units", symlog: bool = True) -> Path:
    """Named quantities ``[B, T]`` along trajectories: mean over ``B`` (line) and min–max band."""
    fig, ax = pyplot().subplots(figsize=(6.0, 3.8))
    for i, (name, v) in enumerate(series.items()):
        ax.fill_between(times, v.min(axis=0), v.max(axis=0), color=f"C{i}", alpha=0.15, lw=0)
        ax.plot(times, v.mean(axis=0), color=f"C{i}", label=f"{name} (mean, min–max band)")
    if symlog:
        ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel(f"t ({time_unit})")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_and_close(fig, path)


def plot_lines(series: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, xlabel: str, ylabel: str,
               logy: bool = True) -> Path:
    """Line plot of named ``(x, y)`` series (energy spectra, autocorrelations), one line each with a legend."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.8))
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.tight_layout()
    return save_and_close(fig, path)
