"""Plots of trajectories and training curves (matplotlib, Agg backend, files written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import save_figure  # noqa: E402


def plot_trajectories(t: np.ndarray, y: np.ndarray, path: str | Path, names: list[str] | None = None,
                      logt: bool = False, title: str = "", max_traj: int = 8,
                      y_pred: np.ndarray | None = None) -> Path:
    """Plot each state component of up to ``max_traj`` trajectories ``y [n, T, dim]`` against ``t [T]``.

    One panel per component (log-scaled time when ``logt``); ``y_pred`` (same shape) is drawn dashed on
    top, for prediction-vs-truth figures. The figure is written to ``path`` atomically.
    """
    n, _, dim = y.shape
    names = names or [f"y{i}" for i in range(dim)]
    fig, axes = plt.subplots(1, dim, figsize=(4 * dim, 3.2), squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, min(n, max_traj)))
    for j, ax in enumerate(axes[0]):
        for i in range(min(n, max_traj)):
            ax.plot(t, y[i, :, j], color=colors[i], lw=1.2)
            if y_pred is not None:
                ax.plot(t, y_pred[i, :, j], color=colors[i], lw=1.2, ls="--")
        if logt:
            ax.set_xscale("log")
        ax.set_xlabel("t")
        ax.set_title(names[j])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = save_figure(fig, path, dpi=120)
    plt.close(fig)
    return out
