"""Figures of robustness results: accuracy-vs-perturbation curves with mean ± std bands (Josias & Brink,
SACAIR 2022, Figs. 5, 6, 10) and box plots of decision-boundary distances (their Fig. 8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import ValidationError  # noqa: E402
from ..io import save_figure  # noqa: E402
from .boundary import BoundaryDistances  # noqa: E402
from .robustness import AccuracyCurve  # noqa: E402

__all__ = ["curve_band", "plot_accuracy_curves", "plot_boundary_distances"]


def curve_band(curves: Sequence[AccuracyCurve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(levels, mean, std)`` over several runs (e.g. models trained with different seeds).

    With several curves: each run's mean over its draws, then mean and std (ddof=1) across runs. With one
    curve: mean and std over its draws.
    """
    if not curves:
        raise ValidationError("each entry needs at least one AccuracyCurve")
    levels = curves[0].levels
    if any(c.levels.shape != levels.shape or not np.allclose(c.levels, levels) for c in curves):
        raise ValidationError("curves to be combined must share the same perturbation levels")
    if len(curves) == 1:
        return levels, curves[0].mean, curves[0].std
    runs = np.stack([c.mean for c in curves])
    return levels, runs.mean(0), runs.std(0, ddof=1)


def plot_accuracy_curves(curves: Mapping[str, Sequence[AccuracyCurve]], path: str | Path, *,
                         xlabel: str = "perturbation size (input units)", title: str = "") -> Path:
    """One line per label (mean) with a shaded ± std band (see :func:`curve_band`), written atomically."""
    if not curves:
        raise ValidationError("curves must map at least one label to its AccuracyCurves")
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, runs in curves.items():
        levels, mean, std = curve_band(list(runs))
        ax.plot(levels, mean, marker="o", ms=3, label=f"{label} (n={len(runs)})" if len(runs) > 1 else label)
        ax.fill_between(levels, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), alpha=0.25)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (fraction)")
    ax.set_ylim(-0.02, 1.02)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return out


def plot_boundary_distances(results: Mapping[str, Sequence[BoundaryDistances] | np.ndarray], path: str | Path, *,
                            only_correct: bool = True, ylabel: str = "distance to decision boundary (input units)",
                            title: str = "") -> Path:
    """Box-and-whisker plot per label of the distances of all its runs pooled (correctly classified points)."""
    if not results:
        raise ValidationError("results must map at least one label to distances")
    data = []
    for label, runs in results.items():
        values = (np.asarray(runs, dtype=float) if isinstance(runs, np.ndarray)
                  else np.concatenate([r.selected(only_correct) for r in runs]))
        if values.size == 0:
            raise ValidationError(f"{label!r} has no distances to plot (no correctly classified point?)")
        data.append(values)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(data), 3.6))
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(data) + 1), list(results), rotation=15)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("model")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    out = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return out
