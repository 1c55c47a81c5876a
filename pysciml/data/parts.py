"""The resumable chunk store of :func:`pysciml.generate`: ``<file>.parts/<fingerprint>/chunkNNNNN.npz``.

Every finished chunk of trajectories is written atomically as an ``.npz`` (no pickles) that carries its own
identity and checksum: the run fingerprint, its chunk index, its trajectory count and a SHA-256 over every
array it holds. :meth:`PartStore.load` accepts a chunk only when all of these match what the current run
expects, so a planted chunk (copied from another run or another index), a zero-byte or truncated file, or
flipped bits are detected; such a chunk is deleted and recomputed, never copied into the dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path, clean_stale_temps

logger = logging.getLogger("pysciml.data")

#: Arrays every chunk holds (``ChunkResult`` fields), with their dtypes.
CHUNK_ARRAYS = {"y": np.float64, "status": np.int8, "nfev": np.int64, "steps": np.int64}
#: Strings every chunk holds.
CHUNK_STRINGS = ("backend", "method")


def chunk_digest(arrays: dict[str, np.ndarray], strings: dict[str, str], fingerprint: str, index: int) -> str:
    """SHA-256 (hex) over the run fingerprint, chunk index, every array (dtype, shape, bytes) and string."""
    h = hashlib.sha256(f"{fingerprint}:{index}".encode())
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{arr.dtype.str}:{arr.shape}".encode())
        h.update(arr.tobytes())
    for key in sorted(strings):
        h.update(f"{key}={strings[key]}".encode())
    return h.hexdigest()


class PartStore:
    """Finished chunks of one run (identified by ``fingerprint``) beside the output file ``target``."""

    def __init__(self, target: Path, fingerprint: str) -> None:
        self.root = target.with_name(target.name + ".parts")
        self.fingerprint = fingerprint
        self.folder = self.root / fingerprint

    def prepare(self) -> None:
        """Create the folder and remove temporary files a killed writer left in it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def path(self, index: int) -> Path:
        return self.folder / f"chunk{index:05d}.npz"

    def save(self, index: int, result: dict[str, Any]) -> None:
        """Store chunk ``index`` atomically with its identity and checksum."""
        arrays = {k: np.ascontiguousarray(np.asarray(result[k], dtype=dt)) for k, dt in CHUNK_ARRAYS.items()}
        strings = {k: str(result[k]) for k in CHUNK_STRINGS}
        digest = chunk_digest(arrays, strings, self.fingerprint, index)
        clean_stale_temps(self.path(index))
        with atomic_path(self.path(index)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays, **strings, wall_time=float(result["wall_time"]), fingerprint=self.fingerprint,
                     index=index, digest=digest)

    def load(self, index: int, size: int) -> dict[str, Any] | None:
        """Chunk ``index`` of ``size`` trajectories, or ``None`` when absent or invalid (then it is deleted).

        Invalid: unreadable (zero bytes, truncated, not an npz), a missing array, wrong dtype or trajectory count,
        another run's fingerprint or another index, or a checksum mismatch.
        """
        path = self.path(index)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in CHUNK_ARRAYS}
                strings = {k: str(npz[k]) for k in CHUNK_STRINGS}
                fingerprint, stored_index = str(npz["fingerprint"]), int(npz["index"])
                digest, wall_time = str(npz["digest"]), float(npz["wall_time"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            return self._reject(path, f"unreadable ({type(exc).__name__}: {exc})")
        problem = None
        if fingerprint != self.fingerprint or stored_index != index:
            problem = f"belongs to run {fingerprint} chunk {stored_index}, not {self.fingerprint} chunk {index}"
        elif any(arrays[k].dtype != dt or arrays[k].shape[:1] != (size,) for k, dt in CHUNK_ARRAYS.items()):
            problem = f"has wrong dtypes or trajectory counts (expected {size})"
        elif chunk_digest(arrays, strings, fingerprint, index) != digest:
            problem = "fails its checksum"
        if problem:
            return self._reject(path, problem)
        return {**arrays, **strings, "wall_time": wall_time}

    @staticmethod
    def _reject(path: Path, problem: str) -> None:
        logger.warning("resume chunk %s %s; recomputing it", path, problem)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None

    def remove(self) -> None:
        """Delete the whole ``.parts`` folder (after the dataset is complete)."""
        shutil.rmtree(self.root, ignore_errors=True)
