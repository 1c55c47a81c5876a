"""Atomic training checkpoints and RNG-state capture for exact resumption.

Everything stored is plain tensors, numbers, strings, lists and dicts so that
``torch.load(..., weights_only=True)`` can read it back.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..io import atomic_path

__all__ = ["capture_rng_state", "restore_rng_state", "save_checkpoint", "load_checkpoint"]


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Snapshot of the torch, numpy and python global RNGs (and of ``generator`` if given)."""
    py_version, py_internal, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_name, "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": int(py_version), "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Inverse of :func:`capture_rng_state`."""
    try:
        torch.set_rng_state(state["torch"])
        npst = state["numpy"]
        np_state = (npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"],
                    npst["gauss"])
        np.random.set_state(np_state)  # noqa: NPY002
        pyst = state["python"]
        random.setstate((pyst["version"], tuple(int(v) for v in pyst["internal"].tolist()), pyst["gauss"]))
        if generator is not None:
            generator.set_state(state["generator"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint RNG state is malformed ({exc}); the checkpoint cannot be resumed "
                              f"exactly — start a fresh run") from exc


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` with ``torch.save`` atomically (temp file in the same folder, ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; train without resume=True first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise CheckpointError(f"checkpoint {str(path)!r} could not be read ({exc}); it is truncated or not a "
                              f"pysciml checkpoint") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} does not hold a dict; not a pysciml checkpoint")
    return payload
