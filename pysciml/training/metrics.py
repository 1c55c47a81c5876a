"""Per-epoch metrics as JSON lines and loss-curve plots, both written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_jsonl", "plot_loss_curve"]


def _atomic_path(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)


def write_jsonl(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Write ``records`` (one JSON object per line) to ``path`` atomically (temp + ``os.replace``)."""
    path = Path(path)
    fd, tmp = _atomic_path(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
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
    fd, tmp = _atomic_path(path)
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
