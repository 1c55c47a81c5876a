"""HDF5 datasets: exact round trip, schema errors, resumable generation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import pysciml
from pysciml import ground_truth
from pysciml.data import hdf5
from pysciml.errors import DatasetError, ValidationError

T = np.concatenate([[0.0], np.geomspace(1e-4, 1e2, 12)])
KW = {"method": "Radau", "rtol": 1e-7, "atol": 1e-10, "backend": "python", "progress": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pysciml.TrajectoryData]:
    path = tmp_path_factory.mktemp("data") / "rob.h5"
    data = pysciml.generate("robertson", 5, T, path, seed=3, chunk_size=2, **KW)
    return path, data


def test_round_trip_exact(dataset) -> None:
    path, data = dataset
    loaded = pysciml.load_dataset(path)
    np.testing.assert_array_equal(loaded.y, data.y)
    np.testing.assert_array_equal(loaded.t, T)
    sol = pysciml.solve("robertson", pysciml.systems.get("robertson").initial_conditions(5, 3), T, **KW)
    np.testing.assert_array_equal(loaded.y, sol.y)
    m = loaded.meta
    assert m["system"] == "robertson" and m["method"] == "Radau" and m["seed"] == 3
    assert m["system_params"]["k2"] == 3e7 and m["format_version"] == hdf5.FORMAT_VERSION
    with h5py.File(path) as fh:
        assert fh["y"].chunks == (1, T.size, 3)
    assert not Path(str(path) + ".parts").exists()


def test_truncated_file_fails_clearly(dataset, tmp_path: Path) -> None:
    path, _ = dataset
    bad = tmp_path / "trunc.h5"
    raw = path.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="trunc"):
        pysciml.load_dataset(bad)


@pytest.mark.parametrize("attr", ["system", "method", "format_version", "seed"])
def test_missing_attribute_named(dataset, tmp_path: Path, attr: str) -> None:
    path, _ = dataset
    bad = tmp_path / "bad.h5"
    shutil.copy(path, bad)
    with h5py.File(bad, "a") as fh:
        del fh.attrs[attr]
    with pytest.raises(DatasetError, match=attr):
        pysciml.load_dataset(bad)


def test_missing_dataset_and_bad_shape_named(dataset, tmp_path: Path) -> None:
    path, _ = dataset
    bad = tmp_path / "bad.h5"
    shutil.copy(path, bad)
    with h5py.File(bad, "a") as fh:
        del fh["status"]
    with pytest.raises(DatasetError, match="status"):
        pysciml.load_dataset(bad)
    shutil.copy(path, bad)
    with h5py.File(bad, "a") as fh:
        fh.attrs["n_trajectories"] = 7
    with pytest.raises(DatasetError, match="inconsistent shapes"):
        pysciml.load_dataset(bad)
    with pytest.raises(DatasetError, match="does not exist"):
        pysciml.load_dataset(tmp_path / "nope.h5")


def test_resume_after_crash_gives_identical_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dataset) -> None:
    _, reference = dataset
    path = tmp_path / "resume.h5"
    calls = {"n": 0}
    real_solve = ground_truth.solve

    def crashing_solve(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(ground_truth, "solve", crashing_solve)
    with pytest.raises(KeyboardInterrupt):
        pysciml.generate("robertson", 5, T, path, seed=3, chunk_size=2, **KW)
    assert not path.exists()  # no half-written dataset under the final name
    parts = list(Path(str(path) + ".parts").rglob("chunk*.npz"))
    assert len(parts) == 1
    calls["n"] = 10  # no more crashes; count solver calls of the resumed run
    resumed = pysciml.generate("robertson", 5, T, path, seed=3, chunk_size=2, **KW)
    assert calls["n"] == 12  # only the two unfinished chunks were solved again
    np.testing.assert_array_equal(resumed.y, reference.y)


def test_killed_process_resumes(tmp_path: Path, dataset) -> None:
    """A real SIGKILL midway (between chunks or inside one) followed by a re-run yields the same y."""
    _, reference = dataset
    path = tmp_path / "killed.h5"
    code = (f"import numpy as np, pysciml; pysciml.generate('robertson', 5, np.array({T.tolist()}), {str(path)!r},"
            f" seed=3, chunk_size=1, **{KW!r})")
    proc = subprocess.Popen([sys.executable, "-c", code])
    parts_dir = Path(str(path) + ".parts")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts_dir.exists() and any(parts_dir.rglob("chunk*.npz")):
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    resumed = pysciml.generate("robertson", 5, T, path, seed=3, chunk_size=1, **KW)
    np.testing.assert_array_equal(resumed.y, reference.y)


def test_trajectory_data_split_and_windows(dataset) -> None:
    _, data = dataset
    a, b = data.split((0.6, 0.4), seed=0)
    assert a.n + b.n == data.n and a.n == 3
    assert set(map(tuple, a.y[:, 0])).isdisjoint(map(tuple, b.y[:, 0]))
    ts, ys = data.windows(4, stride=3)
    starts = range(0, T.size - 4 + 1, 3)
    assert ys.shape == (data.n * len(starts), 4, 3) and ts.shape == ys.shape[:2]
    assert ts.dtype == torch.float64
    torch.testing.assert_close(ys[1], torch.as_tensor(data.y[0, 3:7]))
    torch.testing.assert_close(ts[1], torch.as_tensor(T[3:7]))
    ds = data.dataset(4, stride=3, dtype=torch.float32)
    t0, y0 = ds[len(ds) - 1]
    assert y0.dtype == torch.float32 and len(ds) == ys.shape[0]
    with pytest.raises(ValidationError, match="fractions"):
        data.split((0.5, 0.6))
    with pytest.raises(ValidationError, match="length"):
        data.windows(T.size + 1)
