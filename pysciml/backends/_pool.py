"""Worker processes for ``n_jobs > 1``: cheap to start, one compute thread each.

Workers are forked on Linux (the parent's imports — numpy, SciPy, torch, pysciml — are inherited, so a worker
starts in milliseconds instead of re-importing torch; PyTorch's own ``DataLoader`` workers start the same way)
and spawned elsewhere. Each worker limits torch, OpenMP and BLAS to one thread: ``n_jobs`` processes on
``n_jobs`` cores, instead of ``n_jobs × cores`` threads fighting over them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads() -> None:
    """Limit this process to one compute thread (torch, and BLAS/OpenMP through ``threadpoolctl``)."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP to one thread for the body (restored afterwards).

    The per-trajectory SciPy path runs under it in this process too, so that a serial solve computes the same
    bits as a single-threaded worker (multi-threaded OpenBLAS kernels round differently), whatever thread count
    the calling process uses; tiny per-trajectory linear algebra gains nothing from threads anyway.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def worker_pool(n_jobs: int) -> ProcessPoolExecutor:
    """A process pool of ``n_jobs`` single-threaded workers (fork on Linux, spawn elsewhere)."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context(method),
                               initializer=limit_threads)
