"""Entry point of the Julia worker process (``python -m pysciml.backends._julia_worker [HANDLER]``).

The ``julia`` backend runs Julia in this separate process because importing torch before juliacall can
corrupt the process (LLVM symbol clash) and because a child isolates Julia's threads, signal handling
and crashes. This module therefore imports only the standard library and numpy — never torch, never
:mod:`pysciml.backends.base` — and juliacall only inside :class:`JuliaHandler`.

Wire protocol (both directions, over the child's stdin/stdout pipes): a message is
``[u64 payload length][u32 buffer count][payload][u64 length, bytes]*`` where ``payload`` is a pickle
(protocol 5) whose numpy arrays travel as raw out-of-band buffers. Requests are
``{"op": name, "kwargs": {...}}``; replies ``{"ok": True, "result": ...}`` or
``{"ok": False, "error": text}``. The first message the worker sends is its start-up reply.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import select
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_HEADER = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")
DEFAULT_HANDLER = "pysciml.backends._julia_worker:JuliaHandler"
#: Environment variable through which the bridge tells the worker where the shipped Julia project is.
PROJECT_ENV = "PYSCIML_JULIA_PROJECT_SOURCE"
#: Environment variable naming pysciml's own juliapkg project (juliapkg mode); see :func:`juliapkg_project`.
JULIAPKG_PROJECT_ENV = "PYSCIML_JULIAPKG_PROJECT"


class ProtocolError(RuntimeError):
    """The pipe closed, timed out or carried a malformed message."""


# ---------------------------------------------------------------------------------------------- framing
def encode_message(obj: Any) -> bytes:
    """Serialise ``obj`` into one frame; contiguous numpy arrays are carried as raw out-of-band buffers."""
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    parts: list[bytes | memoryview] = [_HEADER.pack(len(payload), len(buffers)), payload]
    for buf in buffers:
        raw = buf.raw()
        parts.append(_LENGTH.pack(raw.nbytes))
        parts.append(raw)
    return b"".join(parts)


#: the only globals a frame may reference: plain containers/scalars and numpy's array reconstruction
_ALLOWED_GLOBALS = {
    "builtins": {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float",
                 "complex", "bool", "slice", "range"},
    **{mod: {"_reconstruct", "_frombuffer", "ndarray", "dtype", "scalar"}
       for mod in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                   "numpy._core.numeric")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside :data:`_ALLOWED_GLOBALS` (no arbitrary code on load)."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED_GLOBALS.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a worker message")


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ProtocolError("timed out waiting for the Julia worker")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise ProtocolError("the Julia worker closed the pipe (it exited or crashed)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(fd: int, timeout: float | None = None) -> Any:
    """Read one frame from file descriptor ``fd`` (waiting at most ``timeout`` seconds in total)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    size, n_buffers = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    payload = _read_exact(fd, size, deadline)
    buffers = []
    for _ in range(n_buffers):
        (length,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size, deadline))
        buffers.append(bytearray(_read_exact(fd, length, deadline)))
    try:
        return _RestrictedUnpickler(io.BytesIO(payload), buffers=buffers).load()
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a protocol error
        raise ProtocolError(f"malformed message from the Julia worker: {exc}") from exc


def write_message(stream: BinaryIO, obj: Any) -> None:
    """Write one frame to ``stream`` and flush."""
    stream.write(encode_message(obj))
    stream.flush()


# ------------------------------------------------------------------------------------- Julia project
def read_project_toml(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Sections of a Julia ``Project.toml`` as ``{section: {key: value}}`` (top-level keys under ``""``).

    Handles the flat ``key = "value"`` form that Project files use (no tomllib on Python 3.10).
    """
    sections: dict[str, dict[str, str]] = {"": {}}
    current = ""
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: cannot parse line {raw!r}")
        sections[current][key.strip().strip('"')] = value.strip().strip('"')
    return sections


def juliapkg_project(env: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """pysciml's own juliapkg project folder: ``PYSCIML_JULIAPKG_PROJECT``, default
    ``~/.cache/pysciml/juliapkg-project``.

    juliapkg keeps one dependency file per project (``<project>/pyjuliapkg/juliapkg.json``) and, by default,
    one project per virtualenv that every ``import juliacall`` there resolves. pysciml registers the SciML
    stack only in this separate project, so other juliacall users of the environment never see it.
    """
    env = os.environ if env is None else env
    folder = env.get(JULIAPKG_PROJECT_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "pysciml",
                                                           "juliapkg-project")
    return Path(folder).resolve()


class JuliaHandler:
    """Serves worker requests with the ``PySciMLBackend`` Julia module loaded through juliacall.

    Two set-ups, chosen from the environment the bridge prepared:

    * ``PYTHON_JULIACALL_EXE`` + ``PYTHON_JULIACALL_PROJECT`` (juliapkg bypassed): the project is the
      shipped ``PySciMLBackend`` project (a writable copy the bridge has instantiated) and the module is
      loaded with ``using``; with a project of the user's, the module file is included into it.
    * otherwise juliapkg manages Julia in pysciml's own project (:func:`juliapkg_project`, set as
      ``PYTHON_JULIAPKG_PROJECT`` for this process only): the project's dependencies (except PythonCall,
      which juliacall pins itself) are registered there with ``juliapkg.add`` on this opt-in first use,
      then juliacall resolves them and the module file is included into a fresh module.
    """

    def __init__(self) -> None:
        source = Path(os.environ[PROJECT_ENV])
        project = read_project_toml(source / "Project.toml")
        own_project = os.environ.get("PYTHON_JULIACALL_PROJECT", "")
        if os.environ.get("PYTHON_JULIACALL_EXE") and own_project:
            import juliacall

            own_toml = Path(own_project) / "Project.toml"
            if own_toml.is_file() and read_project_toml(own_toml)[""].get("name") == "PySciMLBackend":
                # instantiated by the bridge before this process started (juliacall needs PythonCall)
                juliacall.Main.seval("using PySciMLBackend")
                self.mod = juliacall.Main.PySciMLBackend
            else:  # the user's own project: it must provide the dependencies
                self.mod = self._include(juliacall, source)
        else:
            private = juliapkg_project()
            os.environ["PYTHON_JULIAPKG_PROJECT"] = str(private)  # read by juliapkg when it is imported
            deps_file = private / "pyjuliapkg" / "juliapkg.json"
            deps_file.parent.mkdir(parents=True, exist_ok=True)
            import juliapkg

            for name, uuid in project["deps"].items():
                if name not in {"PythonCall", "LinearAlgebra"}:
                    juliapkg.add(name, uuid, version=project["compat"].get(name), target=str(deps_file))
            import juliacall

            self.mod = self._include(juliacall, source)
        self.julia_version = str(juliacall.Main.seval("string(VERSION)"))
        self.threads = int(juliacall.Main.seval("Threads.nthreads()"))

    @staticmethod
    def _include(juliacall: Any, source: Path) -> Any:
        host = juliacall.newmodule("PySciMLHost")
        host.include(str(source / "src" / "PySciMLBackend.jl"))
        return host.PySciMLBackend

    def info(self) -> dict[str, Any]:
        """Versions and thread count, sent in the start-up reply."""
        return {"julia_version": self.julia_version, "threads": self.threads,
                "methods": [str(m) for m in self.mod.method_names()],
                "systems": [str(s) for s in self.mod.system_names()]}

    def op_ping(self) -> str:
        """Liveness check."""
        return "pong"

    def op_solve_ensemble(self, system: str, params: np.ndarray, u0s: np.ndarray, tsave: np.ndarray,
                          alg: str, reltol: float, abstol: float | np.ndarray, maxiters: int,
                          dt: float) -> dict[str, Any]:
        """``PySciMLBackend.solve_ensemble``; arrays copied out of Julia memory."""
        y, codes, nf, njac, steps = self.mod.solve_ensemble(system, params, u0s, tsave, alg, reltol, abstol,
                                                            maxiters=maxiters, dt=dt)
        return {"y": np.array(y, dtype=np.float64), "codes": [str(c) for c in codes],
                "nfev": np.array(nf, dtype=np.int64), "njev": np.array(njac, dtype=np.int64),
                "steps": np.array(steps, dtype=np.int64)}

    def op_sensitivity(self, system: str, params: np.ndarray, u0: np.ndarray, tsave: np.ndarray,
                       data: np.ndarray, alg: str, sensealg: str, loss: str, reltol: float, abstol: float,
                       maxiters: int) -> dict[str, Any]:
        """``PySciMLBackend.loss_sensitivity``: loss value, gradients and the trajectory."""
        value, grad_p, grad_u0, y = self.mod.loss_sensitivity(system, params, u0, tsave, data, alg,
                                                              sensealg=sensealg, loss=loss, reltol=reltol,
                                                              abstol=abstol, maxiters=maxiters)
        return {"loss": float(value), "grad_params": np.array(grad_p, dtype=np.float64),
                "grad_y0": np.array(grad_u0, dtype=np.float64), "y": np.array(y, dtype=np.float64)}

    def op_expv(self, t: float, A: np.ndarray, b: np.ndarray, m: int, tol: float) -> np.ndarray:
        """``exp(tA) b`` (ExponentialUtilities.expv)."""
        return np.array(self.mod.expv_apply(t, A, b, m=m, tol=tol), dtype=np.float64)

    def op_phiv(self, t: float, A: np.ndarray, b: np.ndarray, k: int, m: int, tol: float) -> np.ndarray:
        """``[φ₀(tA)b … φ_k(tA)b]`` ``[n, k+1]`` (ExponentialUtilities.phiv)."""
        return np.array(self.mod.phiv_apply(t, A, b, k, m=m, tol=tol), dtype=np.float64)


def _load_handler(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)()


def serve(handler_spec: str = DEFAULT_HANDLER) -> int:
    """Run the worker loop on stdin/stdout until a ``shutdown`` request or end of input."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else writing to fd 1 (Julia, juliapkg) goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    in_fd = sys.stdin.fileno()
    try:
        handler = _load_handler(handler_spec)
    except BaseException as exc:  # noqa: BLE001 - report every start-up failure to the parent
        write_message(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()})
        return 1
    write_message(out, {"ok": True, "result": handler.info()})
    while True:
        try:
            request = read_message(in_fd)
        except ProtocolError:
            return 0
        op = request.get("op")
        if op == "shutdown":
            try:
                write_message(out, {"ok": True, "result": None})
            except BrokenPipeError:  # the parent stopped listening: nothing left to do
                pass
            return 0
        fn = getattr(handler, f"op_{op}", None)
        if fn is None:
            write_message(out, {"ok": False, "error": f"unknown worker operation {op!r}"})
            continue
        try:
            write_message(out, {"ok": True, "result": fn(**request.get("kwargs", {}))})
        except Exception as exc:  # noqa: BLE001 - errors are returned to the parent, the worker lives on
            write_message(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                "traceback": traceback.format_exc()})


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_HANDLER))
