"""Scatter plots of two-dimensional classification sets (one panel per set)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..errors import ValidationError  # noqa: E402
from ..io import save_figure  # noqa: E402
from .base import ClassificationData  # noqa: E402


def plot_toy_datasets(sets: Mapping[str, ClassificationData], path: str | Path, *, max_points: int = 1000) -> Path:
    """One scatter panel per set (training points, coloured by label), written atomically to ``path``."""
    if not sets:
        raise ValidationError("sets must hold at least one named ClassificationData")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 3.2), squeeze=False)
    for ax, (title, data) in zip(axes[0], sets.items(), strict=True):
        if data.x_train.ndim != 2 or data.x_train.shape[1] != 2:
            raise ValidationError(f"set {title!r} is not two-dimensional: x_train {tuple(data.x_train.shape)}")
        x, y = data.x_train[:max_points].cpu().numpy(), data.y_train[:max_points].cpu().numpy()
        for c in range(data.num_classes):
            ax.scatter(x[y == c, 0], x[y == c, 1], s=4, label=f"class {c}")
        ax.set_title(title)
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_aspect("equal")
    axes[0][0].legend(loc="best", fontsize=7, markerscale=2)
    fig.tight_layout()
    out = save_figure(fig, path, dpi=100)
    plt.close(fig)
    return out
