"""IDX reader/writer: round trips, compression detected from content, rejection of damaged files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from pysciml.datasets import read_idx, write_idx
from pysciml.errors import DatasetError, ValidationError


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip(tmp_path, dtype: str, name: str) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((5, 3, 4)) * 50).astype(dtype)
    path = write_idx(tmp_path / name, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_header_layout_matches_the_format(tmp_path) -> None:
    path = write_idx(tmp_path / "labels", np.array([3, 1, 4], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 3, 1, 4])
    big = write_idx(tmp_path / "ints", np.array([1, 256], dtype=np.int32)).read_bytes()
    assert big[8:] == struct.pack(">2i", 1, 256)  # big-endian body


def test_gzip_detected_from_content_not_name(tmp_path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_idx(tmp_path / "plain-name", arr, compress=True)
    np.testing.assert_array_equal(read_idx(path), arr)


def test_expect_shape(tmp_path) -> None:
    path = write_idx(tmp_path / "img", np.zeros((2, 28, 28), dtype=np.uint8))
    assert read_idx(path, expect_shape=(None, 28, 28)).shape == (2, 28, 28)
    with pytest.raises(DatasetError, match="expected"):
        read_idx(path, expect_shape=(None, 27, 28))


def test_rejects_damaged_files(tmp_path) -> None:
    good = write_idx(tmp_path / "good", np.ones((4, 5), dtype=np.float32)).read_bytes()
    cases = {
        "truncated_body": good[:-3], "trailing": good + b"\x00", "bad_magic": b"\x01\x00" + good[2:],
        "bad_type": good[:2] + b"\x07" + good[3:], "short": good[:3], "truncated_header": good[:6],
        "zero_dims": b"\x00\x00\x08\x00",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(DatasetError):
            read_idx(tmp_path / name)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(DatasetError, match="gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "trunc_inside.gz").write_bytes(gzip.compress(good[:-4]))
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(tmp_path / "trunc_inside.gz")
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "missing")


def test_write_rejects_unsupported(tmp_path) -> None:
    with pytest.raises(ValidationError, match="IDX type"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValidationError):
        write_idx(tmp_path / "x", np.array(1, dtype=np.uint8))
    assert not list(tmp_path.iterdir())  # nothing half-written
