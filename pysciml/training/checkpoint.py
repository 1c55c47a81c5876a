"""Atomic, checksummed training checkpoints; RNG-state capture for exact resumption; :func:`load_model`.

Everything stored is plain tensors, numbers, strings, lists and dicts so that
``torch.load(..., weights_only=True)`` can read it back. :func:`save_checkpoint` adds a format tag
(``format = "pysciml-checkpoint"``, ``format_version``), the pysciml version, and a SHA-256 digest of the
content (tensor bytes with dtype and shape, and every other value, walked in a fixed order), which
:func:`load_checkpoint` verifies: a flipped bit in a weight, an RNG state or a number is reported as a
:class:`~pysciml.errors.CheckpointError`, never loaded. A checkpoint written by a trainer also holds the
model's class name and its constructor config as JSON (:func:`pysciml.models._config.model_config`), so
:func:`load_model` rebuilds the model without retyping it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, PySciMLError, ValidationError

__all__ = ["FORMAT", "FORMAT_VERSION", "capture_rng_state", "checkpoint_digest", "load_checkpoint", "load_model",
           "model_record", "restore_rng_state", "save_checkpoint"]

FORMAT = "pysciml-checkpoint"
FORMAT_VERSION = 1
_META_KEYS = ("format", "format_version", "pysciml_version", "sha256")


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


def _feed(h: Any, obj: Any) -> None:
    """Feed a canonical byte encoding of ``obj`` (type tags, lengths, sorted dict keys) into the hash ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    else:  # scalars and strings: the type name and repr identify the value
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def checkpoint_digest(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``payload`` without its format/digest keys, over a canonical encoding of its content."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k not in _META_KEYS})
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus format tag, version and SHA-256 digest) with ``torch.save`` atomically
    (temporary file in the same folder, then ``os.replace``)."""
    from .. import __version__
    from ..io import atomic_path

    if not isinstance(payload, dict):
        raise ValidationError(f"payload must be a dict, got {type(payload).__name__}")
    body = {k: v for k, v in payload.items() if k not in _META_KEYS}
    full = {**body, "format": FORMAT, "format_version": FORMAT_VERSION, "pysciml_version": __version__,
            "sha256": checkpoint_digest(body)}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(full, tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Checks the format tag and version, and (``verify=True``) the SHA-256 digest of the content.

    Raises:
        CheckpointError: missing or unreadable file, another format or format version, or a digest
            mismatch (the file was corrupted after it was written).
    """
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
    if payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a {FORMAT} file (format tag {payload.get('format')!r}); it "
                              f"was written by another program or by a pysciml version before checkpoints were "
                              f"tagged — retrain, or load its state dict with torch.load yourself")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has format version {payload.get('format_version')!r} "
                              f"(written by pysciml {payload.get('pysciml_version')!r}); this pysciml reads "
                              f"version {FORMAT_VERSION} — use the matching pysciml version")
    if verify and payload.get("sha256") != checkpoint_digest(payload):
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupted: its content does not match the SHA-256 "
                              f"digest stored when it was written; use another checkpoint or retrain")
    return payload


def model_record(model: nn.Module) -> dict[str, Any]:
    """``{"model_type": class name, "model_config": JSON text or ""}`` for a checkpoint of ``model``; the JSON
    holds the constructor config and the parameters' dtype (empty when the model cannot be rebuilt)."""
    from ..models._config import model_config

    try:
        config = model_config(model)
    except ValidationError:
        text = ""
    else:
        dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
        dtype = str(dtypes.pop()).removeprefix("torch.") if len(dtypes) == 1 else None
        text = json.dumps({"model": config, "dtype": dtype}, sort_keys=True)
    return {"model_type": type(model).__name__, "model_config": text}


def load_model(path: str | os.PathLike[str], *, model_type: str | type | None = None,
               map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved in the checkpoint ``path`` (``checkpoint.pt`` or ``best_model.pt`` of a trainer)
    from its stored constructor config and load its weights; returned in ``eval()`` mode on ``map_location``.

    Args:
        path: a checkpoint written by a :class:`pysciml.training.Trainer`.
        model_type: optional expected class (or class name); a checkpoint of another type is refused.
        map_location: device for the rebuilt model.

    Raises:
        CheckpointError: unreadable/corrupted file (see :func:`load_checkpoint`), a checkpoint without model
            config (a model that is not a :mod:`pysciml.models` class), another model type than
            ``model_type``, or weights that do not fit the rebuilt model.
    """
    from ..models._config import build_from_config

    payload = load_checkpoint(path)
    stored_type = payload.get("model_type")
    if model_type is not None:
        wanted = model_type if isinstance(model_type, str) else getattr(model_type, "__name__", str(model_type))
        if stored_type != wanted:
            raise CheckpointError(f"checkpoint {str(path)!r} holds a {stored_type!r} model, not a {wanted!r}; "
                                  f"pass the matching checkpoint or model_type")
    text = payload.get("model_config")
    if not isinstance(text, str) or not text:
        raise CheckpointError(f"checkpoint {str(path)!r} has no model config (model type {stored_type!r} is not "
                              f"a pysciml.models class built by its constructor); rebuild the model yourself "
                              f"and load payload['model'] with load_state_dict")
    try:
        record = json.loads(text)
        model = build_from_config(record["model"])
        if record.get("dtype"):
            model = model.to(getattr(torch, record["dtype"]))
        model.load_state_dict(payload["model"])
    except (PySciMLError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: cannot rebuild its {stored_type!r} model ({exc}); it "
                              f"was written by an incompatible pysciml version") from exc
    return model.to(map_location).eval()
