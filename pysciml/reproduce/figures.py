"""Figures shared by the reproductions: per-epoch curves with a mean ± std band over seeds (clipped to the
seeds' range), and the robustness curves and box plots of :mod:`pysciml.evaluation` rebuilt from the cached JSON
results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..evaluation import AccuracyCurve
from ..plotting import plt, save_figure

__all__ = ["curves_from_json", "plot_epoch_curves"]


def curves_from_json(runs: Sequence[Mapping[str, Any]], name: str) -> list[AccuracyCurve]:
    """The :class:`AccuracyCurve` stored as ``run[name]`` (``AccuracyCurve.to_dict()``) in each run."""
    return [AccuracyCurve(r[name]["kind"], np.asarray(r[name]["levels"]), np.asarray(r[name]["accuracy"]))
            for r in runs]


def plot_epoch_curves(series: Mapping[str, Sequence[Sequence[float]]], path: Path, *, ylabel: str, title: str = "",
                      logy: bool = False, ax: Any = None) -> Path | None:
    """One line per label: mean over seeds of a per-epoch quantity with a ± std band (epochs on the x axis).

    The band is clipped to the range the seeds span, so a skewed spread (one outlier seed) never draws values
    no seed reached, such as a negative NFE.

    ``series[label]`` holds one list per seed (equal lengths). Written atomically unless ``ax`` is given.
    """
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, runs in series.items():
        arr = np.asarray(runs, dtype=float)
        mean = np.nanmean(arr, axis=0)
        std = np.nanstd(arr, axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros_like(mean)
        epochs = np.arange(1, mean.size + 1)
        ax.plot(epochs, mean, label=f"{label} (n={arr.shape[0]})")
        low = np.maximum(mean - std, np.nanmin(arr, axis=0))
        high = np.minimum(mean + std, np.nanmax(arr, axis=0))
        ax.fill_between(epochs, low, high, alpha=0.25)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if not own:
        return None
    fig.tight_layout()
    out = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return out

