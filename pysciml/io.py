"""Safe file writing: atomic replacement, permissions from the umask, stale-temp cleanup, exclusive locks.

* :func:`atomic_path` — a file appears complete under its final name or not at all (write to a temporary
  file beside it, then ``os.replace``); the result has the permissions a plain ``open(path, "w")`` would
  give (``0o666`` masked by the process umask), not ``mkstemp``'s ``0o600``.
* :func:`clean_stale_temps` — temporary files left by a killed writer (SIGKILL skips every cleanup) are
  removed by the next writer, which must hold the path's lock.
* :func:`exclusive_lock` — one writer per output path: a second process (or thread) trying to lock the same
  path fails at once with :class:`~pysciml.errors.LockedError` instead of interleaving its writes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LockedError, OutputPathError


def _umask() -> int:
    """The process umask (read without changing it where ``/proc`` tells it, else set-and-restore)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def check_writable_target(path: str | os.PathLike[str], what: str = "output path") -> Path:
    """``path`` as a :class:`Path` that can be written as a file: not a directory, its parent a writable
    directory (created when missing). Raises :class:`~pysciml.errors.PySciMLError` subclass
    :class:`~pysciml.errors.OutputPathError` naming the path and the problem otherwise."""
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f"{what} {str(target)!r} is a directory; give a file name inside it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the folder of {what} {str(target)!r}: {exc.strerror or exc}") from exc
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"no permission to write in {str(target.parent)!r} ({what} {str(target)!r})")
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` (``os.replace``).

    On an exception the temporary file is removed and ``path`` is left untouched. The final file gets mode
    ``0o666 & ~umask``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def clean_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left beside ``path`` when a writer was killed.

    Call it only while holding :func:`exclusive_lock` on ``path`` (a live writer's temporary file would be
    removed otherwise). Returns the removed paths.
    """
    target = Path(path)
    removed = []
    if target.parent.is_dir():
        for stale in target.parent.glob(_temp_prefix(target) + "*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                removed.append(stale)
    return removed


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``path`` (``.<name>.lock`` beside it)."""
    target = Path(path)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive, non-blocking advisory lock (``flock``) on ``path`` for the duration of the block.

    A second holder fails at once with :class:`~pysciml.errors.LockedError`. The lock file is removed on exit;
    a holder that finds its lock file replaced or removed after locking retries, so that unlinking never lets two
    writers in. Where ``fcntl`` does not exist (Windows) the lock is an ``O_EXCL`` marker file.
    """
    lock = lock_path(path)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield from _marker_lock(lock, path)
        return
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        except OSError as exc:
            raise OutputPathError(f"path {str(path)!r}: cannot create its lock file {str(lock)!r} "
                                  f"({exc.strerror}); choose a folder you can write to") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(_locked_message(path, lock)) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder unlinked the file we locked: lock the new one
    else:  # pragma: no cover - pathological churn
        raise LockedError(_locked_message(path, lock))
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _locked_message(path: str | os.PathLike[str], lock: Path) -> str:
    return (f"{str(path)!r} is being written by another process (lock {str(lock)!r} is held); wait for it to "
            "finish or write to another path")


def _marker_lock(lock: Path, path: str | os.PathLike[str]) -> Iterator[None]:  # pragma: no cover - not POSIX
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        raise LockedError(_locked_message(path, lock)) from None
    try:
        yield
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def save_figure(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from the suffix of ``path``) and return the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", **kwargs)
    return target

