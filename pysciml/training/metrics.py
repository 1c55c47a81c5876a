"""Per-epoch metrics as JSON lines and loss-curve plots, both written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_path, save_figure

__all__ = ["plot_loss_curve", "training_terms", "validation_metrics", "write_jsonl"]


def write_jsonl(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Write ``records`` (one JSON object per line) to ``path`` atomically (temp + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(rec, sort_keys=True) + "\n" for rec in records), encoding="utf-8")
    return path


def training_terms(records: Sequence[dict[str, Any]]) -> list[str]:
    """Keys of the training loss terms in ``records``: ``train_loss``, the other ``*_loss`` keys that are not
    validation metrics (``traj_loss``, ``ce_loss``), and every regulariser ``reg_*``, in first-seen order."""
    keys: list[str] = []
    for rec in records:
        for key in rec:
            term = key.startswith("reg_") or (key.endswith("_loss") and not key.startswith("val_"))
            if term and key not in keys:
                keys.append(key)
    return keys


def validation_metrics(records: Sequence[dict[str, Any]]) -> list[str]:
    """Keys of the validation metrics (``val_*``) in ``records``, in first-seen order."""
    return list(dict.fromkeys(k for rec in records for k in rec if k.startswith("val_")))


def plot_loss_curve(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Plot the per-epoch ``records`` against ``epoch``: the training loss terms (total, data term and each
    regulariser separately) in one panel, and each validation metric in its own panel; atomic PNG write.

    Loss panels use a log scale (non-positive values are left out); records without ``epoch`` metrics (a
    ``"diverged"`` marker) are skipped.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    records = [r for r in records if "train_loss" in r]
    panels = [("training loss terms", training_terms(records))] + [(k, [k]) for k in validation_metrics(records)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    epochs = [r["epoch"] for r in records]
    for ax, (title, keys) in zip(axes[0], panels, strict=True):
        for key in keys:
            vals = [float(r.get(key, float("nan"))) for r in records]
            ax.plot(epochs, vals, marker="." if len(epochs) < 30 else None, label=key)
        ax.set_xlabel("epoch")
        loss_panel = title == "training loss terms" or title.endswith("_loss")
        ax.set_ylabel("loss term (as added to the total)" if title == "training loss terms" else title)
        ax.set_yscale("log" if loss_panel else "linear")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
