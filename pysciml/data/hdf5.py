"""HDF5 trajectory datasets: the file format, atomic writing and checked loading.

File layout (format ``pysciml-trajectories``, version 2)::

    /t           [T]            float64   output times
    /y           [n, T, dim]    float64   states, chunked one trajectory per chunk
    /y0          [n, dim]       float64   initial states
    /status      [n]            int8      pysciml.status.Status codes
    /nfev        [n]            int64     right-hand-side evaluations per trajectory
    /steps       [n]            int64     solver steps per trajectory
    /checksum    [n]            uint64    per-trajectory checksum (version 2): BLAKE2b-64 of the row's y, y0, status
    attrs: format, format_version, system, system_params (JSON), dim, n_trajectories, state_names (JSON),
           method, backend, rtol, atol (JSON), seed, pysciml_version, created (ISO 8601 UTC), wall_time,
           generate_args (JSON: the arguments that determine the contents, compared on re-runs)

:func:`load_dataset` checks the layout, every attribute's type and range, the shapes, and (unless
``verify=False``) every trajectory's checksum, so flipped bits or zeroed blocks in ``y`` are reported with the
damaged trajectory indices. Version 1 files (no checksums) still load. Generation lives in
:mod:`pysciml.data.generation`.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DatasetError, ValidationError
from ..io import atomic_path
from ..status import Status
from ..validation import check_positive_int
from .trajectory import TrajectoryData

FORMAT = "pysciml-trajectories"
FORMAT_VERSION = 2
REQUIRED_DATASETS = ("t", "y", "y0", "status", "nfev", "steps")
REQUIRED_ATTRS = ("format", "format_version", "system", "system_params", "dim", "n_trajectories",
                  "method", "backend", "rtol", "atol", "seed", "pysciml_version", "created")
#: Rows read at once while verifying checksums (bounded memory for large files).
_BLOCK = 256


def row_checksums(y: np.ndarray, y0: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Per-trajectory checksum ``[n]`` uint64: BLAKE2b (8-byte digest) of row ``i``'s ``y``, ``y0`` and status bytes
    (float64/int8, C order)."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    status = np.ascontiguousarray(status, dtype=np.int8)
    out = np.empty(y.shape[0], dtype=np.uint64)
    for i in range(y.shape[0]):
        h = hashlib.blake2b(y[i].tobytes(), digest_size=8)
        h.update(y0[i].tobytes())
        h.update(status[i].tobytes())
        out[i] = int.from_bytes(h.digest(), "little")
    return out


def write_dataset(target: Path, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write ``arrays`` (``t, y, y0, status, nfev, steps``) and ``attrs`` to ``target`` atomically, with checksums."""
    y = arrays["y"]
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as fh:
        for key in REQUIRED_DATASETS:
            fh.create_dataset(key, data=arrays[key], chunks=(1,) + y.shape[1:] if key == "y" else None)
        fh.create_dataset("checksum", data=row_checksums(y, arrays["y0"], arrays["status"]))
        fh.attrs.update({**attrs, "format": FORMAT, "format_version": FORMAT_VERSION})


def read_generate_args(path: Path) -> dict[str, Any] | None:
    """The ``generate_args`` recorded in a complete dataset file, or ``None`` when unreadable or absent."""
    try:
        with h5py.File(path, "r") as fh:
            text = fh.attrs.get("generate_args")
            return json.loads(text) if isinstance(text, str) else None
    except (OSError, ValueError, KeyError, RuntimeError):  # h5py reports damaged files with all of these
        return None


def _check_attrs(meta: dict[str, Any], name: str) -> None:
    """Types and ranges of the attributes (raises :class:`DatasetError` naming the attribute)."""

    def bad(key: str, want: str) -> DatasetError:
        return DatasetError(f"{name}: attribute {key!r} must be {want}, got {meta[key]!r}")

    for key in ("system", "method", "backend", "pysciml_version", "created", "format"):
        if not isinstance(meta[key], str) or not meta[key]:
            raise bad(key, "a non-empty string")
    for key, low in (("format_version", 1), ("dim", 1), ("n_trajectories", 1)):
        if not isinstance(meta[key], numbers.Integral) or isinstance(meta[key], bool) or meta[key] < low:
            raise bad(key, f"an integer >= {low}")
    if not isinstance(meta["seed"], numbers.Integral):
        raise bad("seed", "an integer")
    rtol = meta["rtol"]
    if not isinstance(rtol, numbers.Real) or not np.isfinite(rtol) or rtol <= 0:
        raise bad("rtol", "a positive finite number")
    if "wall_time" in meta and (not isinstance(meta["wall_time"], numbers.Real) or not meta["wall_time"] >= 0):
        raise bad("wall_time", "a non-negative number")
    if not isinstance(meta["system_params"], dict):
        raise bad("system_params", "a JSON object")
    atol = np.asarray(meta["atol"], dtype=object)
    if atol.ndim > 1 or not all(isinstance(a, numbers.Real) and np.isfinite(a) and a > 0 for a in atol.ravel()):
        raise bad("atol", "a positive number or a list of them")
    if "state_names" in meta and not (isinstance(meta["state_names"], list)
                                      and all(isinstance(s, str) for s in meta["state_names"])):
        raise bad("state_names", "a JSON list of strings")


def _read_meta(fh: h5py.File, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in fh.attrs.items()}
    for key, value in list(meta.items()):
        if isinstance(value, bytes):
            meta[key] = value.decode("utf-8", "replace")
    for key in ("system_params", "atol", "state_names", "generate_args"):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except (TypeError, json.JSONDecodeError) as exc:
                raise DatasetError(f"{name}: attribute {key!r} is not valid JSON: {exc}") from exc
    return meta


def _read_y(fh: h5py.File, name: str, y0: np.ndarray, status: np.ndarray, verify: bool,
            time_index: slice) -> np.ndarray:
    """``y[:, time_index]`` read in blocks of rows, each block's checksums verified against ``/checksum``."""
    ds = fh["y"]
    n = ds.shape[0]
    if not verify or "checksum" not in fh:
        return ds[:, time_index]
    stored = fh["checksum"][...]
    if stored.shape != (n,) or stored.dtype != np.uint64:
        raise DatasetError(f"{name}: dataset 'checksum' must be uint64 [{n}], got {stored.dtype} {stored.shape}")
    parts, damaged = [], []
    for a in range(0, n, _BLOCK):
        block = ds[a:a + _BLOCK]
        sums = row_checksums(block, y0[a:a + _BLOCK], status[a:a + _BLOCK])
        damaged.extend((a + np.flatnonzero(sums != stored[a:a + _BLOCK])).tolist())
        parts.append(block[:, time_index])
    if damaged:
        shown = damaged[:10]
        raise DatasetError(f"{name}: {len(damaged)} trajectory(ies) fail their checksum (corrupted data), e.g. "
                           f"indices {shown}; regenerate the file (or load_dataset(..., verify=False) to read it "
                           "anyway)")
    return np.concatenate(parts) if parts else ds[:, time_index]


def load_dataset(path: str | Path, verify: bool = True, time_stride: int = 1) -> TrajectoryData:
    """Load and validate a pysciml HDF5 dataset.

    Args:
        path: the file written by :func:`pysciml.generate`.
        verify: check every trajectory's checksum (format version 2); ``False`` skips it for speed.
        time_stride: keep every ``time_stride``-th output time (``t[::k]``, ``y[:, ::k]``; the first time is
            always kept): time sub-sampling of a stored dataset.

    Raises :class:`~pysciml.errors.DatasetError` naming the problem when the file is missing, not HDF5,
    truncated, of another format/version, lacks a dataset or attribute, has an attribute of the wrong type or
    range, inconsistent shapes, unknown status codes, or a trajectory failing its checksum.
    """
    time_stride = check_positive_int(time_stride, "time_stride")
    if not isinstance(verify, (bool, np.bool_)):
        raise ValidationError(f"verify must be True or False, got {verify!r}")
    target = Path(path)
    name = repr(str(target))
    if not target.is_file():
        raise DatasetError(f"dataset file {name} does not exist")
    try:
        fh = h5py.File(target, "r")
    except OSError as exc:
        raise DatasetError(f"{name} is not a readable HDF5 file (truncated or corrupt?): {exc}") from exc
    try:
        with fh:
            missing = [k for k in REQUIRED_DATASETS if k not in fh]
            if missing:
                raise DatasetError(f"{name} lacks dataset(s) {missing}; not a complete pysciml file")
            missing_attrs = [k for k in REQUIRED_ATTRS if k not in fh.attrs]
            if missing_attrs:
                raise DatasetError(f"{name} lacks attribute(s) {missing_attrs}")
            meta = _read_meta(fh, name)
            if meta["format"] != FORMAT:
                raise DatasetError(f"{name} has format {meta['format']!r}, expected {FORMAT!r}")
            _check_attrs(meta, name)
            if meta["format_version"] > FORMAT_VERSION:
                raise DatasetError(f"{name} has format version {meta['format_version']}, newer than this pysciml reads "
                                   f"({FORMAT_VERSION}); upgrade pysciml")
            n, dim = int(meta["n_trajectories"]), int(meta["dim"])
            shapes = {k: fh[k].shape for k in REQUIRED_DATASETS}
            T = shapes["t"][0] if len(shapes["t"]) == 1 else -1
            expected = {"t": (T,), "y": (n, T, dim), "y0": (n, dim), "status": (n,), "nfev": (n,), "steps": (n,)}
            if T < 1 or any(shapes[k] != v for k, v in expected.items()):
                raise DatasetError(f"{name} has inconsistent shapes {shapes} for n={n}, dim={dim}")
            keep = slice(None, None, time_stride)
            try:
                t = fh["t"][keep]
                y0 = fh["y0"][...]
                status = fh["status"][...]
                meta["nfev"] = fh["nfev"][...]
                meta["steps"] = fh["steps"][...]
                y = _read_y(fh, name, y0, status, verify, keep)
            except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
                raise DatasetError(f"{name} could not be read completely (truncated?): {exc}") from exc
    except (KeyError, RuntimeError, OSError) as exc:  # h5py's errors for a damaged object tree
        raise DatasetError(f"dataset file {name} is damaged: its HDF5 structure cannot be read ({exc}); "
                           "regenerate it") from exc
    meta["y0"] = y0
    unknown = sorted(set(np.unique(status).tolist()) - {int(s) for s in Status})
    if unknown:
        raise DatasetError(f"{name} has unknown status code(s) {unknown}; valid: {[int(s) for s in Status]}")
    if time_stride > 1:
        meta["time_stride"] = time_stride
    try:
        return TrajectoryData(t, y, meta, status)
    except ValueError as exc:
        raise DatasetError(f"{name}: {exc}") from exc
