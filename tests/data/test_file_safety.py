"""Safe dataset files: overwrite rules, the exclusive lock, umask, stale temporaries, bad paths, kill/resume."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import pysciml
from pysciml import ground_truth
from pysciml.errors import DatasetError, InputTypeError, LockedError, OutputPathError, ValidationError
from pysciml.io import exclusive_lock, lock_path

T = np.concatenate([[0.0], np.geomspace(1e-4, 1e2, 10)])
KW = {"method": "Radau", "rtol": 1e-7, "atol": 1e-10, "backend": "python", "progress": False, "seed": 3}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    pysciml.generate("robertson", 6, T, path, chunk_size=2, **KW)
    return path


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as fh:
        return {k: fh[k][...] for k in ("t", "y", "y0", "status", "nfev", "steps", "checksum")}


def _assert_same_data(a: Path, b: Path) -> None:
    xa, xb = _arrays(a), _arrays(b)
    for key in xa:
        np.testing.assert_array_equal(xa[key], xb[key], err_msg=key)


def _count_solves(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"n": 0}
    real = ground_truth.solve

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(ground_truth, "solve", counting)
    return calls


def test_same_args_rerun_is_a_no_op(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.h5"
    pysciml.generate("robertson", 6, T, path, chunk_size=2, **KW)
    before = (path.stat().st_mtime_ns, path.read_bytes())
    calls = _count_solves(monkeypatch)
    again = pysciml.generate("robertson", 6, T, path, chunk_size=2, n_jobs=1, **KW)  # n_jobs does not matter
    assert calls["n"] == 0
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    np.testing.assert_array_equal(again.y, pysciml.load_dataset(reference).y)


def test_other_args_refused_naming_them_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "a.h5"
    pysciml.generate("robertson", 4, T, path, chunk_size=2, **KW)
    original = path.read_bytes()
    with pytest.raises(DatasetError, match=r"differ in .*n \(file: 4, now: 5\).*rtol") as info:
        pysciml.generate("robertson", 5, T, path, chunk_size=2, **{**KW, "rtol": 1e-6})
    assert "method" not in str(info.value) and "--overwrite" in str(info.value)
    assert path.read_bytes() == original
    data = pysciml.generate("robertson", 5, T, path, chunk_size=2, overwrite=True, **{**KW, "rtol": 1e-6})
    assert data.n == 5 and data.meta["rtol"] == 1e-6
    # a file that is not a dataset of ours is not replaced silently either
    other = tmp_path / "notes.h5"
    other.write_text("precious")
    with pytest.raises(DatasetError, match="not a dataset whose generate arguments"):
        pysciml.generate("robertson", 2, T, other, **KW)
    assert other.read_text() == "precious"


def test_second_writer_refused_at_once_nothing_corrupted(reference: Path, tmp_path: Path) -> None:
    path = tmp_path / "shared.h5"
    code = (f"import numpy as np, pysciml; pysciml.generate('robertson', 6, np.array({T.tolist()}), {str(path)!r}, "
            f"chunk_size=1, **{KW!r})")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while not lock_path(path).exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert lock_path(path).exists(), "the first writer never took the lock"
        start = time.monotonic()
        with pytest.raises(LockedError, match="another process"):
            pysciml.generate("robertson", 6, T, path, chunk_size=1, **KW)
        assert time.monotonic() - start < 5.0  # refused at once, not after waiting
    finally:
        assert proc.wait(timeout=300) == 0
    _assert_same_data(path, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.h5"]  # no lock, parts or temporaries left


def test_lock_is_exclusive_within_one_process_and_released(tmp_path: Path) -> None:
    target = tmp_path / "x.h5"
    with exclusive_lock(target):
        with pytest.raises(LockedError), exclusive_lock(target):
            pass
    with exclusive_lock(target):  # released and reusable
        pass
    assert not lock_path(target).exists()


def test_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        data_path = tmp_path / "u.h5"
        pysciml.generate("robertson", 2, T, data_path, **KW)
    finally:
        os.umask(old)
    assert stat.S_IMODE(data_path.stat().st_mode) == 0o640


def test_stale_temporaries_removed_on_next_run(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    stale = [tmp_path / ".s.h5.abc123.tmp", tmp_path / ".s.h5.killed.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    unrelated = tmp_path / ".other.h5.x.tmp"
    unrelated.write_bytes(b"someone else's")
    pysciml.generate("robertson", 2, T, path, **KW)
    assert not any(p.exists() for p in stale) and unrelated.exists()


def test_bad_output_paths_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="is a directory"):
        pysciml.generate("robertson", 2, T, tmp_path, **KW)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError, match="cannot create the folder"):
        pysciml.generate("robertson", 2, T, blocker / "sub" / "d.h5", **KW)
    created = pysciml.generate("robertson", 2, T, tmp_path / "new" / "dir" / "d.h5", **KW)  # missing parents made
    assert created.n == 2
    if os.geteuid() != 0:  # root ignores permissions
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputPathError, match="no permission"):
            pysciml.generate("robertson", 2, T, locked / "d.h5", **KW)


@pytest.mark.parametrize("after_chunks", [0, pytest.param(1, marks=pytest.mark.slow),
                                          pytest.param(2, marks=pytest.mark.slow)])
def test_killed_at_several_points_resumes_bitwise(reference: Path, tmp_path: Path, after_chunks: int) -> None:
    """SIGKILL after 0 (inside the first chunk), 1 or 2 finished chunks, then a re-run: the same file contents."""
    path = tmp_path / "k.h5"
    code = (f"import numpy as np, pysciml; pysciml.generate('robertson', 6, np.array({T.tolist()}), {str(path)!r}, "
            f"chunk_size=2, **{KW!r})")
    proc = subprocess.Popen([sys.executable, "-c", code])
    parts = Path(str(path) + ".parts")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = len(list(parts.rglob("chunk*.npz"))) if parts.exists() else 0
        if (after_chunks == 0 and lock_path(path).exists()) or (after_chunks and done >= after_chunks):
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    pysciml.generate("robertson", 6, T, path, chunk_size=2, **KW)
    _assert_same_data(path, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.h5"]


def test_complex_y0_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="y0 must be real"):
        pysciml.solve("robertson", np.array([1.0 + 1j, 0.0, 0.0]), T, method="Radau")
    with pytest.raises(ValidationError, match="y0 must be real"):
        pysciml.generate("robertson", 1, T, tmp_path / "c.h5", y0=np.array([[1.0 + 0j, 0.0, 0.0]]), **KW)


def test_y0_in_a_dtype_numpy_cannot_read_is_a_pysciml_error() -> None:
    # found by the slow fuzz: the complex-input check handed a bfloat16 tensor to numpy (TypeError)
    import torch

    for y0 in (torch.ones((2, 3), dtype=torch.bfloat16), torch.zeros((0, 3), dtype=torch.bfloat16)):
        with pytest.raises(InputTypeError, match="y0"):
            pysciml.solve("robertson", y0, T, method="Radau")
