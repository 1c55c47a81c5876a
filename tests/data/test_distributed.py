"""Distributed and parallel generation: Dask LocalCluster (2 workers on loopback) and local process pools give
the in-process dataset bit for bit; a worker killed mid-run does not stop the run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import pysciml
from pysciml.errors import ValidationError

distributed = pytest.importorskip("distributed")

T = np.concatenate([[0.0], np.geomspace(1e-4, 1e3, 10)])
KW = {"method": "Radau", "rtol": 1e-7, "atol": 1e-10, "backend": "python", "progress": False, "seed": 7}
N, CHUNK = 8, 2


def _payload(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as fh:
        return {k: fh[k][...] for k in ("t", "y", "y0", "status", "nfev", "steps", "checksum")}


def _assert_bitwise(a: Path, b: Path) -> None:
    pa, pb = _payload(a), _payload(b)
    for key in pa:
        np.testing.assert_array_equal(pa[key], pb[key], err_msg=key)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dask") / "serial.h5"
    pysciml.generate("robertson", N, T, path, chunk_size=CHUNK, **KW)
    return path


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dask_cluster_matches_in_process_bitwise(in_process: Path, client, tmp_path: Path) -> None:
    path = tmp_path / "dask.h5"
    data = pysciml.generate("robertson", N, T, path, chunk_size=CHUNK, scheduler=client, **KW)
    assert data.n == N
    _assert_bitwise(path, in_process)
    # the scheduler address works too (what `pysciml generate --scheduler tcp://...` passes)
    path2 = tmp_path / "addr.h5"
    data2 = pysciml.generate("robertson", 2, T, path2, chunk_size=1, scheduler=client.scheduler.address, **KW)
    np.testing.assert_array_equal(data2.y, data.y[:2])


@pytest.mark.slow  # restarts a worker process (a fresh torch import): tens of seconds on a busy machine
def test_dask_killed_worker_still_completes(in_process: Path, client, tmp_path: Path) -> None:
    """SIGKILL one worker process while it solves a chunk: Dask re-runs its task elsewhere, the file is right."""
    pids = client.run(os.getpid)  # worker address -> pid

    def slow_solve_chunk(*args, **kwargs):
        time.sleep(0.5)  # keep chunks in flight long enough to kill a worker inside one
        from pysciml.data.schedulers import solve_chunk

        return solve_chunk(*args, **kwargs)

    import pysciml.data.schedulers as sched

    killed: list[int] = []

    def killer() -> None:
        time.sleep(0.8)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    original = sched._solve_chunk_single_thread
    sched._solve_chunk_single_thread = slow_solve_chunk
    thread = threading.Thread(target=killer)
    try:
        thread.start()
        path = tmp_path / "killed.h5"
        pysciml.generate("robertson", N, T, path, chunk_size=1, scheduler=client, **KW)
    finally:
        sched._solve_chunk_single_thread = original
        thread.join()
    assert killed
    assert np.array_equal(_payload(path)["y"], _payload(in_process)["y"])


@pytest.mark.slow  # starts its own LocalCluster
def test_scheduler_local_starts_and_stops_a_cluster(in_process: Path, tmp_path: Path) -> None:
    path = tmp_path / "local.h5"
    pysciml.generate("robertson", N, T, path, chunk_size=CHUNK, scheduler="local", n_jobs=2, **KW)
    _assert_bitwise(path, in_process)


def test_local_process_pool_matches_in_process_bitwise(in_process: Path, tmp_path: Path) -> None:
    path = tmp_path / "pool.h5"
    pysciml.generate("robertson", N, T, path, chunk_size=CHUNK, n_jobs=2, **KW)
    _assert_bitwise(path, in_process)
    serial = pysciml.solve("robertson", pysciml.load_dataset(path).meta["y0"], T, **{
        k: KW[k] for k in ("method", "rtol", "atol", "backend")})
    pooled = pysciml.solve("robertson", serial.y[:, 0], T, n_jobs=2, **{
        k: KW[k] for k in ("method", "rtol", "atol", "backend")})
    np.testing.assert_array_equal(pooled.y, serial.y)
    np.testing.assert_array_equal(pooled.nfev, serial.nfev)


def test_scheduler_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="scheduler must be"):
        pysciml.generate("robertson", 2, T, tmp_path / "x.h5", scheduler=3, **KW)
