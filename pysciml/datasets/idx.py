"""Reader and writer of the IDX format of the MNIST-family files (raw or gzip-compressed).

Layout (all integers big-endian): two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions ``k``, then ``k`` uint32 sizes,
then ``∏ sizes`` values in C order. Compression is recognised from the content (gzip magic ``1f 8b``), not the
file name.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError, ValidationError
from ..io import atomic_path

__all__ = ["IDX_TYPES", "read_idx", "write_idx"]

#: IDX type code → big-endian numpy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DatasetError(f"IDX file {path} does not exist (or is not a file)")
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"IDX file {path} is a corrupt or truncated gzip stream ({exc}); "
                           f"download or reinstall it") from exc


def read_idx(path: str | os.PathLike[str], *, expect_shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Read an IDX file into a native-endian numpy array of its stored type and shape.

    ``expect_shape`` checks the shape (``None`` entries match any size), e.g. ``(None, 28, 28)`` for images.
    Raises :class:`DatasetError` for a missing file, bad magic bytes, an unknown type code, a truncated body,
    trailing bytes or an unexpected shape.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(f"IDX file {path} is truncated: {len(data)} bytes, the header alone needs 4")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in IDX_TYPES:
        raise DatasetError(f"{path} is not an IDX file: magic bytes {data[:4].hex()} (expected 0000 then a "
                           f"type code in {sorted(hex(c) for c in IDX_TYPES)} and the number of dimensions)")
    if ndim == 0:
        raise DatasetError(f"IDX file {path} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"IDX file {path} is truncated inside its header ({len(data)} < {header} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "longer than its header says"
        raise DatasetError(f"IDX file {path} is {kind}: {len(data)} bytes, shape {shape} of {dtype.name} "
                           f"needs {expected}; download or reinstall it")
    if expect_shape is not None and (len(shape) != len(expect_shape) or any(
            e is not None and e != s for e, s in zip(expect_shape, shape, strict=False))):
        want = tuple("any" if e is None else e for e in expect_shape)
        raise DatasetError(f"IDX file {path} has shape {shape}, expected {want}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (atomically); gzip-compressed when ``compress`` (default: name ends .gz)."""
    arr = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    native = arr.dtype.newbyteorder("=")
    if native not in codes:
        raise ValidationError(f"array dtype {arr.dtype} has no IDX type code; use one of "
                              f"{sorted(str(d) for d in codes)}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValidationError(f"array must have 1 to 255 dimensions, got {arr.ndim}")
    path = Path(path)
    body = struct.pack(f">HBB{arr.ndim}I", 0, codes[native], arr.ndim, *arr.shape)
    body += np.ascontiguousarray(arr, dtype=IDX_TYPES[codes[native]]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        body = gzip.compress(body, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(body)
    return path
