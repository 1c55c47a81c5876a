"""Silent corruption is detected: per-trajectory checksums, attribute validation, validated resume chunks."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import pysciml
from pysciml import ground_truth
from pysciml.data.hdf5 import row_checksums
from pysciml.data.parts import PartStore
from pysciml.errors import DatasetError

T = np.concatenate([[0.0], np.geomspace(1e-4, 1e2, 8)])
KW = {"method": "Radau", "rtol": 1e-7, "atol": 1e-10, "backend": "python", "progress": False, "seed": 1}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("integrity") / "d.h5"
    pysciml.generate("robertson", 5, T, path, chunk_size=2, **KW)
    return path


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.h5"
    shutil.copy(src, dst)
    return dst


def test_checksums_are_per_row_and_order_sensitive() -> None:
    rng = np.random.default_rng(0)
    y, y0, st = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 3)), np.zeros(4, np.int8)
    sums = row_checksums(y, y0, st)
    assert sums.dtype == np.uint64 and len(set(sums.tolist())) == 4
    np.testing.assert_array_equal(row_checksums(y[[2, 0]], y0[[2, 0]], st[[2, 0]]), sums[[2, 0]])
    flipped = y.copy()
    flipped.view(np.uint64)[1, 2, 0] ^= np.uint64(1)  # one bit of the mantissa
    assert np.flatnonzero(row_checksums(flipped, y0, st) != sums).tolist() == [1]


@pytest.mark.parametrize("damage", ["bit", "zero_block", "status"])
def test_corruption_detected_on_load_and_skippable(dataset: Path, tmp_path: Path, damage: str) -> None:
    path = _copy(dataset, tmp_path)
    with h5py.File(path, "a") as fh:
        if damage == "bit":
            row = fh["y"][3]
            row.view(np.uint64)[4, 1] ^= np.uint64(1 << 40)
            fh["y"][3] = row
        elif damage == "zero_block":
            fh["y"][3, 2:6] = 0.0
        else:
            fh["status"][3] = 1
    with pytest.raises(DatasetError, match=r"1 trajectory\(ies\) fail their checksum.*indices \[3\]"):
        pysciml.load_dataset(path)
    assert pysciml.load_dataset(path, verify=False).n == 5


@pytest.mark.parametrize(("attr", "value"), [("rtol", "tight"), ("rtol", -1.0), ("n_trajectories", 2.5),
                                             ("dim", 0), ("seed", "x"), ("system_params", "[1, 2]"),
                                             ("atol", '"abc"'), ("state_names", "{"), ("method", "")])
def test_attribute_types_and_ranges_validated(dataset: Path, tmp_path: Path, attr: str, value: object) -> None:
    path = _copy(dataset, tmp_path)
    with h5py.File(path, "a") as fh:
        fh.attrs[attr] = value
    with pytest.raises(DatasetError, match=attr):
        pysciml.load_dataset(path)


def test_unknown_status_code_rejected(dataset: Path, tmp_path: Path) -> None:
    path = _copy(dataset, tmp_path)
    with h5py.File(path, "a") as fh:
        fh["status"][0] = 42
    with pytest.raises(DatasetError, match="status code"):
        pysciml.load_dataset(path, verify=False)


def test_time_subsampling(dataset: Path) -> None:
    full = pysciml.load_dataset(dataset)
    sub = pysciml.load_dataset(dataset, time_stride=3)
    np.testing.assert_array_equal(sub.t, full.t[::3])
    np.testing.assert_array_equal(sub.y, full.y[:, ::3])
    assert sub.meta["time_stride"] == 3
    np.testing.assert_array_equal(full.subsample_time(3).y, sub.y)


@pytest.mark.parametrize("plant", ["zero_bytes", "garbage", "other_index", "other_run", "flipped"])
def test_bad_resume_chunks_recomputed_never_copied(dataset: Path, tmp_path: Path, plant: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad chunk in .parts/ is detected, deleted and recomputed; the result equals a clean run's."""
    path = tmp_path / "p.h5"
    calls = {"n": 0}
    real = ground_truth.solve

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(ground_truth, "solve", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        pysciml.generate("robertson", 5, T, path, chunk_size=2, **KW)
    folder = next(Path(str(path) + ".parts").iterdir())
    chunk0, chunk1 = folder / "chunk00000.npz", folder / "chunk00001.npz"
    assert chunk0.exists() and chunk1.exists()
    if plant == "zero_bytes":
        chunk0.write_bytes(b"")
    elif plant == "garbage":
        chunk0.write_bytes(b"PK\x03\x04 not really a zip")
    elif plant == "other_index":
        shutil.copy(chunk1, chunk0)
    elif plant == "other_run":  # a valid chunk of a run with other arguments, copied in
        other = PartStore(path, "0123456789abcdef")
        store = dict(np.load(chunk0))
        other.prepare()
        other.save(0, {**store, "y": store["y"] * 2.0})
        shutil.copy(other.path(0), chunk0)
    else:
        with np.load(chunk0) as npz:
            arrays = dict(npz)
        arrays["y"] = arrays["y"].copy()
        arrays["y"][0, 3, 0] += 1e-9
        with open(chunk0, "wb") as fh:
            np.savez(fh, **arrays)
    calls["n"] = 10
    data = pysciml.generate("robertson", 5, T, path, chunk_size=2, **KW)
    assert calls["n"] == 12  # chunk 0 (bad) and chunk 2 (never finished) recomputed, chunk 1 reused
    np.testing.assert_array_equal(data.y, pysciml.load_dataset(dataset).y)
    assert not Path(str(path) + ".parts").exists()


def test_damaged_dataset_rerun_reports_then_overwrite_regenerates(dataset: Path, tmp_path: Path) -> None:
    path = _copy(dataset, tmp_path)
    with h5py.File(path, "a") as fh:
        fh["y"][1, 3, 0] = 0.5
    with pytest.raises(DatasetError, match="checksum"):
        pysciml.generate("robertson", 5, T, path, chunk_size=2, **KW)  # same arguments: not silently accepted
    data = pysciml.generate("robertson", 5, T, path, chunk_size=2, overwrite=True, **KW)
    np.testing.assert_array_equal(data.y, pysciml.load_dataset(dataset).y)
