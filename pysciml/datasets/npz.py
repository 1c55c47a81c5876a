"""Classification data from an ``.npz`` file holding ``x [n, d]`` and integer ``labels [n]`` (no pickles)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import ValidationError

__all__ = ["load_npz"]


def load_npz(path: str | os.PathLike[str], name: str = "path") -> tuple[torch.Tensor, torch.Tensor]:
    """``(x [n, d] float64, labels [n] int64)`` from the ``.npz`` file ``path`` (``allow_pickle=False``).

    ``name`` is how errors refer to the argument (``"[data] path"`` for a training config, ``"--data"`` for the
    CLI). Raises :class:`~pysciml.errors.ValidationError` for a missing file, missing arrays, or labels that are
    not a non-empty 1-D array of class indices ``>= 0``.
    """
    if not os.path.isfile(path):
        raise ValidationError(f"{name} {str(path)!r} does not exist (an .npz with x [n, d] and labels [n])")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            x, labels = np.asarray(arrays["x"], dtype=np.float64), np.asarray(arrays["labels"])
    except (KeyError, OSError, ValueError) as exc:
        raise ValidationError(f"{name} {str(path)!r} must be an .npz with arrays 'x' [n, d] and 'labels' [n] "
                              f"({exc})") from exc
    if labels.dtype.kind not in "iu" or labels.ndim != 1 or labels.size == 0 or labels.min() < 0:
        raise ValidationError(f"{name} {str(path)!r}: labels must be a non-empty 1-D array of class indices >= 0")
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))
