"""Where the chunks of :func:`pysciml.generate` run: in this process, a local process pool, or Dask.

Each chunk of trajectories is one task ``solve_chunk(system, y0_chunk, t_eval, settings)``; results come back
to the calling process, which stores them in the resumable ``.parts/`` store as they finish (in any order) and
advances its progress bar. The task is the same function in every mode and each chunk holds the same
trajectories, so the dataset is identical bit for bit whichever mode computed it (workers run one compute
thread; run the in-process mode with one torch thread too for the batched torch methods, whose reductions
depend on the thread count at round-off).

Dask (``pip install 'pysciml[dask]'``): ``scheduler="local"`` starts a ``LocalCluster`` of ``n_jobs`` single-threaded
worker processes for this call; ``"tcp://host:port"`` connects to a running scheduler; a
``distributed.Client`` is used as given. A worker that dies mid-task is replaced and its task re-run by Dask.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..backends._pool import limit_threads, worker_pool
from ..errors import BackendUnavailableError, ValidationError
from ..systems.base import System

ChunkTask = tuple[int, np.ndarray]
OnDone = Callable[[int, dict[str, Any]], None]


def solve_chunk(system: System, y0: np.ndarray, t_eval: np.ndarray, settings: dict[str, Any]) -> dict[str, Any]:
    """Solve one chunk ``y0 [k, dim]`` with :func:`pysciml.solve` and return its arrays (plain numpy/str)."""
    from ..ground_truth import solve

    sol = solve(system, y0, t_eval, **settings)
    return {"y": sol.y, "status": sol.status, "nfev": sol.nfev, "steps": sol.steps, "wall_time": sol.wall_time,
            "backend": sol.backend, "method": sol.method}


def _solve_chunk_single_thread(system: System, y0: np.ndarray, t_eval: np.ndarray,
                               settings: dict[str, Any]) -> dict[str, Any]:
    limit_threads()
    return solve_chunk(system, y0, t_eval, settings)


def check_scheduler(scheduler: Any) -> Any:
    """Validate ``scheduler``: ``None``, ``"local"``, a ``tcp://``/``tls://``/``inproc://`` address, or a Client."""
    if scheduler is None or (isinstance(scheduler, str) and (scheduler == "local" or "://" in scheduler)):
        return scheduler
    if type(scheduler).__name__ == "Client" and hasattr(scheduler, "submit"):
        return scheduler
    raise ValidationError(f"scheduler must be None, 'local', a scheduler address such as 'tcp://host:8786', or a "
                          f"distributed.Client; got {scheduler!r}")


@contextlib.contextmanager
def _dask_client(scheduler: Any, n_jobs: int) -> Iterator[Any]:
    try:
        import distributed
    except ImportError as exc:
        raise BackendUnavailableError("scheduler= needs Dask's distributed scheduler: pip install 'pysciml[dask]'"
                                      ) from exc
    if not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler == "local":
        with distributed.LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout="30s")
    except OSError as exc:
        raise BackendUnavailableError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
    with client:
        yield client


def run_chunks(system: System, tasks: list[ChunkTask], t_eval: np.ndarray, settings: dict[str, Any],
               on_done: OnDone, n_jobs: int = 1, scheduler: Any = None, key: str = "chunk") -> None:
    """Solve every ``(index, y0_chunk)`` in ``tasks`` and call ``on_done(index, result)`` in this process as each
    finishes. ``scheduler=None`` runs in this process (``n_jobs > 1``: a pool of single-threaded processes, one
    chunk per task, or — with fewer chunks than jobs — the trajectories of each chunk split over the pool by
    :func:`pysciml.solve`); otherwise Dask (see the module docstring). ``key`` prefixes the Dask task keys."""
    if not tasks:
        return
    if scheduler is not None:
        import distributed

        with _dask_client(scheduler, n_jobs) as client:
            futures = {client.submit(_solve_chunk_single_thread, system, y0, t_eval, settings,
                                     key=f"pysciml-{key}-{index:05d}", pure=False): index for index, y0 in tasks}
            for future in distributed.as_completed(list(futures)):
                on_done(futures[future], future.result())
        return
    if n_jobs <= 1 or len(tasks) < n_jobs:
        inner = dict(settings, n_jobs=n_jobs)
        for index, y0 in tasks:
            on_done(index, solve_chunk(system, y0, t_eval, inner))
        return
    from concurrent.futures import as_completed

    with worker_pool(n_jobs) as pool:
        pending = {pool.submit(solve_chunk, system, y0, t_eval, settings): index for index, y0 in tasks}
        for future in as_completed(pending):
            on_done(pending[future], future.result())
