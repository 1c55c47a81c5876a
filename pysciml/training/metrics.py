"""Per-epoch metrics as JSON lines and loss-curve plots, both written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_path, save_figure

__all__ = ["write_jsonl", "plot_loss_curve"]


def write_jsonl(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Write ``records`` (one JSON object per line) to ``path`` atomically (temp + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(rec, sort_keys=True) + "\n" for rec in records), encoding="utf-8")
    return path


def plot_loss_curve(records: Sequence[dict[str, Any]], path: str | os.PathLike[str],
                    keys: Sequence[str] = ("train_loss", "val_loss")) -> Path:
    """Plot ``keys`` of the per-epoch ``records`` against ``epoch`` on a log scale; atomic PNG write."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in records]
    for key in keys:
        vals = [r.get(key) for r in records]
        if any(v is not None for v in vals):
            ax.plot(epochs, [float("nan") if v is None else v for v in vals], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
