"""HDF5 trajectory datasets: resumable generation, atomic writes and schema-checked loading.

File layout (format ``pysciml-trajectories``, version 1)::

    /t        [T]            float64   output times
    /y        [n, T, dim]    float64   states, chunked one trajectory per chunk
    /y0       [n, dim]       float64   initial states
    /status   [n]            int8      pysciml.status.Status codes
    /nfev     [n]            int64     right-hand-side evaluations per trajectory
    /steps    [n]            int64     solver steps per trajectory
    attrs: format, format_version, system, system_params (JSON), dim, n_trajectories, state_names (JSON),
           method, backend, rtol, atol (JSON), seed, pysciml_version, created (ISO 8601 UTC), wall_time

Generation solves trajectories in chunks; each finished chunk is stored atomically in a ``<file>.parts/``
folder keyed by a fingerprint of the arguments, so a crashed run re-run with the same arguments resumes
from the completed chunks and produces the same ``y``. The final file is written to a temporary file and
renamed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..errors import DatasetError
from ..ground_truth import solve
from ..io import atomic_path
from ..systems import get as get_system
from ..systems.base import System
from ..validation import check_positive_int, check_time_grid
from .trajectory import TrajectoryData

FORMAT = "pysciml-trajectories"
FORMAT_VERSION = 1
REQUIRED_DATASETS = ("t", "y", "y0", "status", "nfev", "steps")
REQUIRED_ATTRS = ("format", "format_version", "system", "system_params", "dim", "n_trajectories",
                  "method", "backend", "rtol", "atol", "seed", "pysciml_version", "created")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _fingerprint(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate(system: str | System, n: int, t_eval: Any, path: str | Path, method: str = "Radau",
             rtol: float = 1e-8, atol: float | Any = 1e-10, seed: int = 0, backend: str = "auto",
             n_jobs: int = 1, chunk_size: int = 64, y0: Any | None = None, progress: bool = True,
             params: dict[str, Any] | None = None, **options: Any) -> TrajectoryData:
    """Solve ``n`` trajectories of ``system`` and write them to the HDF5 file ``path``.

    Initial states come from ``system.initial_conditions(n, seed)`` (the source paper's sampling) unless
    ``y0 [n, dim]`` is given. Trajectories are solved in chunks of ``chunk_size``; finished chunks are kept
    in ``<path>.parts/`` until the file is complete, so re-running after a crash with the same arguments
    resumes. Returns the data as :class:`TrajectoryData`.
    """
    sys_obj = get_system(system, **(params or {}))
    n = check_positive_int(n, "n")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    t_arr = check_time_grid(t_eval, "t_eval")
    y0_arr = sys_obj.initial_conditions(n, seed) if y0 is None else sys_obj.check_state(y0, "y0")
    if y0_arr.shape[0] != n:
        raise DatasetError(f"y0 holds {y0_arr.shape[0]} states but n={n}")
    target = Path(path)
    fingerprint = _fingerprint({"system": sys_obj.metadata(), "t": t_arr, "y0": y0_arr, "method": method,
                                "rtol": rtol, "atol": atol, "backend": backend, "chunk": chunk_size,
                                "options": options})
    parts = target.with_name(target.name + ".parts") / fingerprint
    parts.mkdir(parents=True, exist_ok=True)
    chunks = [np.arange(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]
    used_backend, used_method = backend, method
    bar = tqdm(total=n, desc=f"generate {sys_obj.name}", unit="traj", disable=not progress)
    for k, idx in enumerate(chunks):
        part = parts / f"chunk{k:05d}.npz"
        if not part.exists():
            sol = solve(sys_obj, y0_arr[idx], t_arr, method=method, rtol=rtol, atol=atol, backend=backend,
                        n_jobs=n_jobs, **options)
            with atomic_path(part) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, y=sol.y, status=sol.status, nfev=sol.nfev, steps=sol.steps,
                         wall_time=sol.wall_time, backend=sol.backend, method=sol.method)
        bar.update(idx.size)
    bar.close()
    loaded = [np.load(parts / f"chunk{k:05d}.npz", allow_pickle=False) for k in range(len(chunks))]
    y = np.concatenate([d["y"] for d in loaded])
    status = np.concatenate([d["status"] for d in loaded]).astype(np.int8)
    used_backend, used_method = str(loaded[0]["backend"]), str(loaded[0]["method"])
    attrs = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "system": sys_obj.name,
        "system_params": json.dumps(sys_obj.params.to_dict()), "dim": sys_obj.dim, "n_trajectories": n,
        "state_names": json.dumps(sys_obj.state_names()), "method": used_method, "backend": used_backend,
        "rtol": float(rtol), "atol": json.dumps(_jsonable(np.asarray(atol, dtype=float))), "seed": int(seed),
        "pysciml_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time": float(sum(float(d["wall_time"]) for d in loaded)),
    }
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("t", data=t_arr)
        fh.create_dataset("y", data=y, chunks=(1, t_arr.size, sys_obj.dim))
        fh.create_dataset("y0", data=y0_arr)
        fh.create_dataset("status", data=status)
        fh.create_dataset("nfev", data=np.concatenate([d["nfev"] for d in loaded]))
        fh.create_dataset("steps", data=np.concatenate([d["steps"] for d in loaded]))
        fh.attrs.update(attrs)
    for d in loaded:
        d.close()
    shutil.rmtree(parts.parent, ignore_errors=True)
    return load_dataset(target)


def load_dataset(path: str | Path) -> TrajectoryData:
    """Load and validate a pysciml HDF5 dataset.

    Raises :class:`~pysciml.errors.DatasetError` naming the problem when the file is missing, not HDF5,
    truncated, of another format/version, lacks a dataset or attribute, or has inconsistent shapes.
    """
    target = Path(path)
    if not target.is_file():
        raise DatasetError(f"dataset file {str(target)!r} does not exist")
    try:
        fh = h5py.File(target, "r")
    except OSError as exc:
        raise DatasetError(f"{str(target)!r} is not a readable HDF5 file (truncated or corrupt?): {exc}") from exc
    with fh:
        missing = [k for k in REQUIRED_DATASETS if k not in fh]
        if missing:
            raise DatasetError(f"{str(target)!r} lacks dataset(s) {missing}; not a complete pysciml file")
        missing_attrs = [k for k in REQUIRED_ATTRS if k not in fh.attrs]
        if missing_attrs:
            raise DatasetError(f"{str(target)!r} lacks attribute(s) {missing_attrs}")
        if fh.attrs["format"] != FORMAT:
            raise DatasetError(f"{str(target)!r} has format {fh.attrs['format']!r}, expected {FORMAT!r}")
        if int(fh.attrs["format_version"]) > FORMAT_VERSION:
            raise DatasetError(f"{str(target)!r} has format version {fh.attrs['format_version']}, newer than "
                               f"this pysciml reads ({FORMAT_VERSION}); upgrade pysciml")
        try:
            t = fh["t"][...]
            y = fh["y"][...]
            status = fh["status"][...]
            meta: dict[str, Any] = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in fh.attrs.items()}
            for key in ("system_params", "atol", "state_names"):
                if key in meta:
                    meta[key] = json.loads(meta[key])
            meta["nfev"] = fh["nfev"][...]
            meta["steps"] = fh["steps"][...]
            meta["y0"] = fh["y0"][...]
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{str(target)!r} could not be read completely (truncated?): {exc}") from exc
    n, dim = int(meta["n_trajectories"]), int(meta["dim"])
    if y.shape != (n, t.size, dim) or status.shape != (n,) or meta["y0"].shape != (n, dim):
        raise DatasetError(f"{str(target)!r} has inconsistent shapes: y {y.shape}, t {t.shape}, status "
                           f"{status.shape}, y0 {meta['y0'].shape} for n={n}, dim={dim}")
    try:
        return TrajectoryData(t, y, meta, status)
    except ValueError as exc:
        raise DatasetError(f"{str(target)!r}: {exc}") from exc
