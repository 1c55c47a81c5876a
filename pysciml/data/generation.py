"""``pysciml.generate``: solve an ensemble and write it as an HDF5 dataset, safely and resumably.

Safety rules (all enforced under an exclusive lock on the output path, so a second writer fails at once):

* an existing complete dataset is never overwritten unless ``overwrite=True``: re-running with the same arguments
  returns it unchanged (no work), other arguments raise :class:`~pysciml.errors.DatasetError` naming every
  argument that differs;
* the file appears atomically with the umask's permissions; temporary files a killed run left are removed;
* finished chunks are kept in ``<file>.parts/`` (see :mod:`pysciml.data.parts`) until the file is complete, so a
  killed run — in this process, a process pool or a Dask cluster — resumes where it stopped and produces the same
  file bit for bit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..errors import DatasetError, ValidationError
from ..ground_truth import check_real
from ..io import check_writable_target, clean_stale_temps, exclusive_lock
from ..systems import get as get_system
from ..systems.base import System
from ..validation import check_positive_int, check_time_grid
from .hdf5 import load_dataset, read_generate_args, write_dataset
from .parts import PartStore
from .schedulers import check_scheduler, run_chunks
from .trajectory import TrajectoryData


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return repr(value)


def _digest(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    return hashlib.sha256(f"{arr.shape}".encode() + arr.tobytes()).hexdigest()[:16]


def generate_args(system: System, n: int, t_eval: np.ndarray, y0: np.ndarray | None, seed: int, method: str,
                  rtol: float, atol: Any, backend: str, chunk_size: int, options: dict[str, Any]) -> dict[str, Any]:
    """The arguments that determine a dataset's contents, as a JSON-able dict (recorded in the file, compared on
    re-runs; ``n_jobs``, ``scheduler`` and ``progress`` only change how the work runs, not the result)."""
    times = f"{t_eval.size} times in [{t_eval[0]:.6g}, {t_eval[-1]:.6g}] (sha256 {_digest(t_eval)})"
    args = {"system": system.name, "params": system.params.to_dict(), "n": n, "t_eval": times, "seed": seed,
            "y0": "sampled from seed" if y0 is None else f"given (sha256 {_digest(y0)})", "method": method,
            "rtol": rtol, "atol": atol, "backend": backend, "chunk_size": chunk_size, "options": options}
    return json.loads(json.dumps(args, sort_keys=True, default=_jsonable))


def _differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    keys = sorted(set(recorded) | set(now))
    return [f"{k} (file: {recorded.get(k, '<absent>')!r}, now: {now.get(k, '<absent>')!r})" for k in keys
            if recorded.get(k) != now.get(k)]


def generate(system: str | System, n: int, t_eval: Any, path: str | Path, method: str = "Radau",
             rtol: float = 1e-8, atol: float | Any = 1e-10, seed: int = 0, backend: str = "auto",
             n_jobs: int = 1, chunk_size: int = 64, y0: Any | None = None, progress: bool = True,
             params: dict[str, Any] | None = None, overwrite: bool = False, scheduler: Any = None,
             **options: Any) -> TrajectoryData:
    """Solve ``n`` trajectories of ``system`` and write them to the HDF5 file ``path``.

    Args:
        system, params: a :class:`~pysciml.systems.base.System` or its catalogue name with parameters.
        n: number of trajectories.
        t_eval: output times ``[T]`` (strictly increasing); ``None`` takes the system's
            :meth:`~pysciml.systems.base.System.default_t_eval` (log-spaced for Robertson).
        path: output HDF5 file (format in :mod:`pysciml.data.hdf5`).
        method, rtol, atol, backend, options: solver settings, as for :func:`pysciml.solve` (e.g. ``dt=0.05``).
        seed: seed of ``system.initial_conditions(n, seed)`` (the source paper's sampling), unless ``y0 [n, dim]``.
        n_jobs: worker processes (``scheduler=None``) or LocalCluster workers (``scheduler="local"``).
        chunk_size: trajectories per chunk (the unit of resumption and of distributed work).
        progress: show a tqdm bar (advanced in this process as chunks finish, wherever they run).
        overwrite: replace an existing dataset made with other arguments (one made with the same arguments is
            returned as it is either way, unless it fails to load, e.g. a checksum).
        scheduler: ``None`` (this machine), ``"local"`` (a Dask LocalCluster), ``"tcp://host:port"`` (a running
            Dask scheduler) or a ``distributed.Client``; see :mod:`pysciml.data.schedulers`.

    Returns:
        The dataset as :class:`TrajectoryData` (loaded back from the file, checksums verified).

    Raises:
        ValidationError for bad arguments; OutputPathError for an unwritable path; LockedError when another
        process is writing ``path``; DatasetError when ``path`` holds a dataset made with other arguments.
    """
    sys_obj = get_system(system, **(params or {}))
    n = check_positive_int(n, "n")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    seed = check_positive_int(seed, "seed", minimum=0)
    t_arr = sys_obj.default_t_eval() if t_eval is None else check_time_grid(t_eval, "t_eval")
    scheduler = check_scheduler(scheduler)
    if not isinstance(overwrite, (bool, np.bool_)):
        raise ValidationError(f"overwrite must be True or False, got {overwrite!r}")
    given_y0 = None
    if y0 is not None:
        check_real(y0, "y0")
        given_y0 = sys_obj.check_state(y0, "y0")
        if given_y0.shape[0] != n:
            raise ValidationError(f"y0 holds {given_y0.shape[0]} states but n={n}; pass n={given_y0.shape[0]}")
    target = check_writable_target(path, "path")
    args = generate_args(sys_obj, n, t_arr, given_y0, seed, method, rtol, atol, backend, chunk_size, options)
    fingerprint = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:16]
    with exclusive_lock(target):
        clean_stale_temps(target)
        recorded = read_generate_args(target) if target.exists() else None
        if recorded == args:  # the same dataset again: nothing to do (overwrite replaces it only when damaged)
            try:
                return load_dataset(target)
            except DatasetError:
                if not overwrite:
                    raise
        if target.exists() and not overwrite:
            if recorded is None:
                raise DatasetError(f"{str(target)!r} exists but is not a dataset whose generate arguments are "
                                   "recorded (another file, a damaged file or format version 1); pass overwrite=True "
                                   "(--overwrite) to replace it")
            raise DatasetError(f"{str(target)!r} holds a dataset generated with other arguments; they differ in "
                               f"{'; '.join(_differences(recorded, args))}. Pass overwrite=True (--overwrite) to "
                               "replace it, or write to another path")
        y0_arr = sys_obj.initial_conditions(n, seed) if given_y0 is None else given_y0
        _assemble(sys_obj, y0_arr, t_arr, target, fingerprint, args,
                  settings={"method": method, "rtol": rtol, "atol": atol, "backend": backend, **options},
                  chunk_size=chunk_size, n_jobs=n_jobs, scheduler=scheduler, progress=progress)
    return load_dataset(target)


def _assemble(system: System, y0: np.ndarray, t_eval: np.ndarray, target: Path, fingerprint: str,
              args: dict[str, Any], settings: dict[str, Any], chunk_size: int, n_jobs: int, scheduler: Any,
              progress: bool) -> None:
    """Compute the missing chunks (resuming from valid ones), then write the dataset and drop the chunk store."""
    n = y0.shape[0]
    store = PartStore(target, fingerprint)
    store.prepare()
    bounds = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]
    results: dict[int, dict[str, Any]] = {}
    for k, (a, b) in enumerate(bounds):
        found = store.load(k, b - a)
        if found is not None:
            results[k] = found
    bar = tqdm(total=n, initial=sum(b - a for k, (a, b) in enumerate(bounds) if k in results),
               desc=f"generate {system.name}", unit="traj", disable=not progress)

    def on_done(k: int, result: dict[str, Any]) -> None:
        store.save(k, result)
        results[k] = result
        bar.update(bounds[k][1] - bounds[k][0])

    try:
        tasks = [(k, y0[a:b]) for k, (a, b) in enumerate(bounds) if k not in results]
        run_chunks(system, tasks, t_eval, settings, on_done, n_jobs=n_jobs, scheduler=scheduler, key=fingerprint)
    finally:
        bar.close()
    ordered = [results[k] for k in range(len(bounds))]
    arrays = {"t": t_eval, "y": np.concatenate([r["y"] for r in ordered]), "y0": y0,
              "status": np.concatenate([r["status"] for r in ordered]).astype(np.int8),
              "nfev": np.concatenate([r["nfev"] for r in ordered]).astype(np.int64),
              "steps": np.concatenate([r["steps"] for r in ordered]).astype(np.int64)}
    atol = settings["atol"]
    attrs = {
        "system": system.name, "system_params": json.dumps(system.params.to_dict()), "dim": system.dim,
        "n_trajectories": n, "state_names": json.dumps(system.state_names()), "method": str(ordered[0]["method"]),
        "backend": str(ordered[0]["backend"]), "rtol": float(settings["rtol"]),
        "atol": json.dumps(_jsonable(np.asarray(atol, dtype=float))), "seed": int(args["seed"]),
        "pysciml_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time": float(sum(float(r["wall_time"]) for r in ordered)),
        "generate_args": json.dumps(args, sort_keys=True),
    }
    write_dataset(target, arrays, attrs)
    store.remove()
