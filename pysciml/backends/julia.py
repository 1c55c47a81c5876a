"""The optional ``julia`` backend: DifferentialEquations.jl solvers through juliacall in a worker process.

Julia never runs in the calling process: a worker (``python -m pysciml.backends._julia_worker``, a fresh
interpreter that never imports torch) loads the bundled Julia project ``PySciMLBackend`` (shipped as
``pysciml/julia``) through juliacall and serves requests over pipes, with numpy arrays as raw buffers.
The worker starts lazily on first use, is reused, and is shut down at interpreter exit.

Before anything is started, :func:`probe_julia` looks for a Julia executable without importing
juliacall (``PYTHON_JULIACALL_EXE``, ``PYTHON_JULIAPKG_EXE``, juliapkg's install folder, ``julia`` on
``PATH``) in well under five seconds, so that a machine without Julia gets a
:class:`~pysciml.errors.BackendUnavailableError` at once, without any network access (juliapkg would
otherwise try to download Julia). The worker start itself is bounded by ``PYSCIML_JULIA_START_TIMEOUT``
seconds (default 1800: the first use precompiles the SciML stack, which takes minutes); while it waits, an
elapsed-time indicator is shown.

Environment variables honoured: ``PYTHON_JULIACALL_EXE`` + ``PYTHON_JULIACALL_PROJECT`` (bypass juliapkg;
if only the executable is given the project defaults to a writable copy of the bundled one under
``PYSCIML_JULIA_PROJECT_DIR``, default ``~/.cache/pysciml/julia-project``), ``PYTHON_JULIAPKG_EXE``,
``PYTHON_JULIAPKG_PROJECT``, ``PYTHON_JULIAPKG_OFFLINE``, ``PYTHON_JULIACALL_THREADS`` /
``JULIA_NUM_THREADS`` (default ``auto``), ``PYTHON_JULIACALL_HANDLE_SIGNALS`` (default ``yes``, needed with
several threads), ``PYTHON_JULIACALL_SYSIMAGE`` and the other ``PYTHON_JULIACALL_*`` options, which the
worker inherits unchanged. In juliapkg mode the worker uses pysciml's own juliapkg project
(``PYSCIML_JULIAPKG_PROJECT``, default ``~/.cache/pysciml/juliapkg-project``), never the one shared by the
environment's other juliacall users.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import json
import logging
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, ValidationError
from ..status import Status
from ..systems.base import System
from ..validation import check_choice
from ._julia_worker import (
    DEFAULT_HANDLER,
    JULIAPKG_PROJECT_ENV,
    PROJECT_ENV,
    ProtocolError,
    encode_message,
    juliapkg_project,
    read_message,
)
from .base import Backend, Solution

logger = logging.getLogger("pysciml.backends.julia")

INSTALL_HINT = ("to use it: `pip install pysciml[julia]` and install Julia >= 1.10 "
                "(https://julialang.org/downloads or juliaup) so that `julia` is on PATH, or set "
                "PYTHON_JULIACALL_EXE (with PYTHON_JULIACALL_PROJECT) or PYTHON_JULIAPKG_EXE to a "
                "Julia >= 1.10 executable")
MIN_JULIA = (1, 10)
PROBE_TIMEOUT_S = 4.0
DEFAULT_START_TIMEOUT_S = 1800.0
START_TIMEOUT_ENV = "PYSCIML_JULIA_START_TIMEOUT"
PRECOMPILE_HINT = ("the first start installs and precompiles the SciML packages, which can take 10-30 minutes; "
                   f"raise the limit with {START_TIMEOUT_ENV}=<seconds> (e.g. 3600) and retry (finished work "
                   "is kept), or point PYTHON_JULIACALL_SYSIMAGE at a prebuilt system image")


# --------------------------------------------------------------------------------------- method table
@dataclasses.dataclass(frozen=True)
class JuliaMethod:
    """One Julia solver: its family, the nearest python-backend method, and how it is called."""

    family: str
    python_equivalent: str | None
    description: str
    fixed_step: bool = False
    split: bool = False


#: Julia solver name → description; ``python_equivalent`` is the python-backend method to use without Julia.
JULIA_METHODS: dict[str, JuliaMethod] = {
    "Rodas5P": JuliaMethod("Rosenbrock", "Rodas5P", "Rosenbrock order 5(4), stiffly accurate"),
    "Rodas5": JuliaMethod("Rosenbrock", "Rodas5P", "Rosenbrock order 5(4) (Di Marzo)"),
    "Rodas4": JuliaMethod("Rosenbrock", "Rodas4", "Rosenbrock order 4(3)"),
    "Rodas4P": JuliaMethod("Rosenbrock", "Rodas4", "Rosenbrock order 4(3), improved for PDE problems"),
    "Rosenbrock23": JuliaMethod("Rosenbrock", "Rosenbrock23", "Rosenbrock order 2(3), loose tolerances"),
    "RadauIIA5": JuliaMethod("FIRK", "Radau", "Radau IIA order 5, L-stable fully implicit"),
    "KenCarp4": JuliaMethod("SDIRK", None, "ESDIRK order 4 (Kennedy-Carpenter), L-stable"),
    "TRBDF2": JuliaMethod("SDIRK", None, "TR-BDF2 order 2, L-stable"),
    "FBDF": JuliaMethod("BDF", "BDF", "fixed-leading-coefficient variable-order BDF"),
    "QNDF": JuliaMethod("BDF", "BDF", "quasi-constant NDF (MATLAB ode15s-like)"),
    "Tsit5": JuliaMethod("explicit RK", "RK45", "Tsitouras 5(4), non-stiff"),
    "Vern9": JuliaMethod("explicit RK", "DOP853", "Verner 9(8), non-stiff, high accuracy"),
    "ETDRK2": JuliaMethod("exponential RK", "ETDRK4", "exponential time differencing order 2 (split, dt)",
                          fixed_step=True, split=True),
    "ETDRK3": JuliaMethod("exponential RK", "ETDRK4", "exponential time differencing order 3 (split, dt)",
                          fixed_step=True, split=True),
    "ETDRK4": JuliaMethod("exponential RK", "ETDRK4", "Cox-Matthews ETDRK4 (split, dt)",
                          fixed_step=True, split=True),
    "HochOst4": JuliaMethod("exponential RK", "ETDRK4", "Hochbruck-Ostermann stiff order 4 (split, dt)",
                            fixed_step=True, split=True),
    "Exprb32": JuliaMethod("exponential Rosenbrock", None, "adaptive exponential Rosenbrock 3(2), Krylov"),
    "Exprb43": JuliaMethod("exponential Rosenbrock", None, "adaptive exponential Rosenbrock 4(3), Krylov"),
}

#: SciMLSensitivity algorithms accepted by :func:`pysciml.sensitivity`.
SENSEALGS = ("GaussAdjoint", "InterpolatingAdjoint", "InterpolatingAdjointCheckpointing", "QuadratureAdjoint",
             "BacksolveAdjoint", "ForwardDiffSensitivity")


# ------------------------------------------------------------------------------------ system mapping
@dataclasses.dataclass(frozen=True)
class JuliaSystem:
    """How a catalogue system is passed to Julia: parameter names and their values for a system object."""

    param_names: tuple[str, ...]
    values: Callable[[Any], list[float]]
    split: bool = False


def _transient_growth_values(system: Any) -> list[float]:
    a = system.linear_operator()
    return [float(a[0, 0]), float(a[0, 1]), float(a[1, 0]), float(a[1, 1]), float(system.params.epsilon)]


#: Catalogue systems defined natively in ``julia/src/systems.jl`` (same parameter order there).
JULIA_SYSTEMS: dict[str, JuliaSystem] = {
    "robertson": JuliaSystem(("k1", "k2", "k3", "y2_scale"),
                             lambda s: [s.params.k1, s.params.k2, s.params.k3, s.params.y2_scale]),
    "two_body": JuliaSystem((), lambda s: []),
    "rigid_body": JuliaSystem(("I1", "I2", "I3"), lambda s: list(s.params.inertia)),
    "transient_growth": JuliaSystem(("A11", "A12", "A21", "A22", "epsilon"), _transient_growth_values,
                                    split=True),
    "kuramoto_sivashinsky": JuliaSystem(("L", "dealias"),
                                        lambda s: [float(s.params.L), 1.0 if s.params.dealias else 0.0],
                                        split=True),
}


def julia_parameters(system: System) -> tuple[tuple[str, ...], np.ndarray]:
    """Names and values ``[P]`` of the parameter vector the Julia side uses for ``system``.

    Raises :class:`ValidationError` for systems the Julia side does not define.
    """
    spec = JULIA_SYSTEMS.get(system.name)
    if spec is None:
        raise ValidationError(f"system {system.name!r} is not defined in the julia backend (it has "
                              f"{', '.join(JULIA_SYSTEMS)}); use backend='python' for it")
    return spec.param_names, np.asarray(spec.values(system), dtype=np.float64)


# ------------------------------------------------------------------------------------ return codes
_RETCODE_STATUS = {
    "Success": Status.SUCCESS, "Terminated": Status.SUCCESS, "MaxIters": Status.MAX_STEPS,
    "DtLessThanMin": Status.STEP_SIZE_TOO_SMALL, "DtNaN": Status.NON_FINITE, "Unstable": Status.NON_FINITE,
}


def status_from_retcode(code: str) -> Status:
    """Map a SciMLBase ``ReturnCode`` name (``"Success"`` or ``"ReturnCode.Success"``) to a :class:`Status`.

    Unknown or failure codes (``ConvergenceFailure``, ``InitialFailure``, ``Failure``, ``Default`` …) give
    ``FAILED``.
    """
    return _RETCODE_STATUS.get(code.rsplit(".", 1)[-1].strip(), Status.FAILED)


def solution_from_result(result: dict[str, Any], *, t_eval: np.ndarray, dim: int, method: str, rtol: float,
                         atol: float | np.ndarray, system: System, wall_time: float) -> Solution:
    """Build a :class:`Solution` from a worker ``solve_ensemble`` reply.

    ``result``: ``y [batch, T, dim]``, ``codes`` (ReturnCode names), ``nfev``/``njev``/``steps`` ``[batch]``.
    A trajectory reported successful but holding non-finite values is flagged ``NON_FINITE``; rows of a
    failed trajectory after the failure are NaN.
    """
    y = np.asarray(result["y"], dtype=np.float64)
    batch = len(result["codes"])
    if y.shape != (batch, t_eval.size, dim):
        raise ProtocolError(f"julia worker returned y of shape {y.shape}, "
                            f"expected {(batch, t_eval.size, dim)}")
    status = np.array([status_from_retcode(c) for c in result["codes"]], dtype=np.int8)
    finite = np.isfinite(y).all(axis=(1, 2))
    status[(status == Status.SUCCESS) & ~finite] = Status.NON_FINITE
    messages = []
    for code, st in zip(result["codes"], status, strict=True):
        text = Status(int(st)).message
        short = code.rsplit(".", 1)[-1]
        messages.append(text if st == Status.SUCCESS else f"{text} (Julia ReturnCode {short})")
    return Solution(t=t_eval.copy(), y=y, status=status, messages=messages,
                    nfev=np.asarray(result["nfev"], dtype=np.int64),
                    njev=np.asarray(result["njev"], dtype=np.int64),
                    steps=np.asarray(result["steps"], dtype=np.int64), wall_time=wall_time, method=method,
                    backend="julia", rtol=rtol, atol=atol, system=system.name, params=system.params.to_dict())


# ------------------------------------------------------------------------------------------ probing
def shipped_project_dir() -> Path:
    """The bundled Julia project: ``pysciml/julia`` when installed, the repository's ``julia/`` otherwise."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "julia", here.parent / "julia"):
        if (candidate / "Project.toml").is_file():
            return candidate
    raise BackendUnavailableError(f"the bundled Julia project (julia/Project.toml) is missing from {here}; "
                                  "reinstall pysciml")


def _julia_version(exe: str, timeout: float) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([exe, "--startup-file=no", "--version"], capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"julia version (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def _juliapkg_install_candidate() -> str | None:
    project = os.environ.get("PYTHON_JULIAPKG_PROJECT")
    if not project:
        if sys.prefix != sys.base_prefix:
            project = os.path.join(sys.prefix, "julia_env")
        elif os.environ.get("CONDA_PREFIX"):
            project = os.path.join(os.environ["CONDA_PREFIX"], "julia_env")
        else:
            depot = (os.environ.get("JULIA_DEPOT_PATH", "").split(os.pathsep)[0]
                     or os.path.expanduser("~/.julia"))
            project = os.path.join(depot, "environments", "pyjuliapkg")
    exe = os.path.join(project, "pyjuliapkg", "install", "bin", "julia")
    return exe if os.access(exe, os.X_OK) else None


@dataclasses.dataclass(frozen=True)
class JuliaProbe:
    """Result of :func:`probe_julia`."""

    available: bool
    reason: str
    executable: str | None = None
    version: str | None = None


def probe_julia(timeout: float = PROBE_TIMEOUT_S) -> JuliaProbe:
    """Look for juliacall and a Julia >= 1.10 executable without importing juliacall (no network, bounded).

    Order: ``PYTHON_JULIACALL_EXE``, ``PYTHON_JULIAPKG_EXE`` (an explicit setting that does not work is
    reported, not skipped), juliapkg's own install folder, ``julia`` on ``PATH``.
    """
    deadline = time.monotonic() + timeout
    if importlib.util.find_spec("juliacall") is None:
        return JuliaProbe(False, "the Python package juliacall is not installed; " + INSTALL_HINT)
    if bool(os.environ.get("PYTHON_JULIACALL_PROJECT")) and not os.environ.get("PYTHON_JULIACALL_EXE"):
        return JuliaProbe(False, "PYTHON_JULIACALL_PROJECT is set without PYTHON_JULIACALL_EXE "
                          "(juliacall needs both); " + INSTALL_HINT)
    candidates: list[tuple[str, str | None, bool]] = [
        ("PYTHON_JULIACALL_EXE", os.environ.get("PYTHON_JULIACALL_EXE"), True),
        ("PYTHON_JULIAPKG_EXE", os.environ.get("PYTHON_JULIAPKG_EXE"), True),
        ("juliapkg install folder", _juliapkg_install_candidate(), False),
        ("PATH", shutil.which("julia"), False),
    ]
    for origin, exe, explicit in candidates:
        if not exe:
            continue
        resolved = shutil.which(exe) or (exe if os.access(exe, os.X_OK) else None)
        version = _julia_version(resolved, max(0.1, deadline - time.monotonic())) if resolved else None
        if version is not None and version[:2] >= MIN_JULIA:
            return JuliaProbe(True, f"Julia {'.'.join(map(str, version))} at {resolved} (from {origin})",
                              resolved, ".".join(map(str, version)))
        if explicit:
            found = "is not an executable" if resolved is None else (
                "did not report a Julia version" if version is None else
                f"is Julia {'.'.join(map(str, version))}, older than 1.10")
            return JuliaProbe(False, f"{origin}={exe} {found}; " + INSTALL_HINT)
        if time.monotonic() > deadline:
            break
    return JuliaProbe(False, "no Julia executable found (checked PYTHON_JULIACALL_EXE, PYTHON_JULIAPKG_EXE, "
                      "juliapkg's install folder and PATH); " + INSTALL_HINT)


_PROBE_ENV = ("PYTHON_JULIACALL_EXE", "PYTHON_JULIACALL_PROJECT", "PYTHON_JULIAPKG_EXE",
              "PYTHON_JULIAPKG_PROJECT",
              "JULIA_DEPOT_PATH", "CONDA_PREFIX", "PATH")
_PROBES: dict[tuple[str | None, ...], JuliaProbe] = {}


def cached_probe() -> JuliaProbe:
    """:func:`probe_julia`, remembered per value of the environment variables it reads."""
    key = tuple(os.environ.get(k) for k in _PROBE_ENV)
    if key not in _PROBES:
        _PROBES[key] = probe_julia()
    return _PROBES[key]


# ------------------------------------------------------------------------------------------- worker
def juliacall_pythoncall_pin() -> str | None:
    """The PythonCall version spec the installed juliacall requires (``"=0.9.37"``), read from its
    ``juliapkg.json`` without importing juliacall; ``None`` when juliacall is missing or ships none."""
    spec = importlib.util.find_spec("juliacall")
    if spec is None or spec.origin is None:
        return None
    try:
        meta = json.loads((Path(spec.origin).parent / "juliapkg.json").read_text(encoding="utf-8"))
        return str(meta["packages"]["PythonCall"]["version"])
    except (OSError, ValueError, KeyError):
        return None


def runtime_project_toml(source: Path, pin: str | None) -> str:
    """Text of the bundled ``Project.toml`` for the instantiated copy: PythonCall's [compat] set to ``pin``.

    The bundled file admits a range of PythonCall versions; juliacall loads PythonCall from this project
    and needs exactly its own version, so the copy is pinned to it.
    """
    text = (source / "Project.toml").read_text(encoding="utf-8")
    if pin is None:
        return text
    head, sep, compat = text.partition("[compat]")
    compat, n = re.subn(r'(?m)^PythonCall = ".*"$', f'PythonCall = "{pin}"', compat)
    if not sep or n != 1:
        raise BackendUnavailableError(f"{source / 'Project.toml'} has no [compat] entry for PythonCall; "
                                      "reinstall pysciml")
    return head + sep + compat


def _worker_env(probe: JuliaProbe) -> dict[str, str]:
    env = dict(os.environ)
    source = shipped_project_dir()
    env[PROJECT_ENV] = str(source)
    if env.get("PYTHON_JULIACALL_EXE") and not env.get("PYTHON_JULIACALL_PROJECT"):
        default = Path.home() / ".cache" / "pysciml" / "julia-project"
        target = Path(env.get("PYSCIML_JULIA_PROJECT_DIR") or default)
        (target / "src").mkdir(parents=True, exist_ok=True)
        toml = runtime_project_toml(source, juliacall_pythoncall_pin())
        old_toml = target / "Project.toml"
        if old_toml.is_file() and old_toml.read_text(encoding="utf-8") != toml:
            (target / "Manifest.toml").unlink(missing_ok=True)  # dependencies changed: re-instantiate
        old_toml.write_text(toml, encoding="utf-8")
        for path in (source / "src").glob("*.jl"):
            shutil.copyfile(path, target / "src" / path.name)
        env["PYTHON_JULIACALL_PROJECT"] = str(target)
        env["PYSCIML_JULIA_INSTANTIATE"] = "yes"
    elif not env.get("PYTHON_JULIACALL_EXE"):
        if not env.get("PYTHON_JULIAPKG_EXE") and probe.executable:
            env["PYTHON_JULIAPKG_EXE"] = probe.executable  # the Julia the probe found: no download
        env[JULIAPKG_PROJECT_ENV] = str(juliapkg_project(env))  # pysciml's own, not the shared one
    if not env.get("PYTHON_JULIACALL_THREADS") and not env.get("JULIA_NUM_THREADS"):
        env["PYTHON_JULIACALL_THREADS"] = "auto"
    env.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
    return env


def instantiate_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the ``Pkg.instantiate`` subprocess: PythonCall (loaded through SciMLBase's PythonCall
    extension while precompiling) uses this interpreter (``JULIA_PYTHONCALL_EXE``) and CondaPkg installs
    nothing (``JULIA_CONDAPKG_BACKEND=Null``), as juliapkg arranges for its own Julia runs."""
    out = dict(os.environ if env is None else env)
    out["JULIA_PYTHONCALL_EXE"] = sys.executable
    out["JULIA_CONDAPKG_BACKEND"] = "Null"
    return out


def instantiate_project(exe: str, project: str, timeout: float) -> None:
    """Install and precompile the project's dependencies with plain Julia (``Pkg.instantiate``), once.

    Needed before juliacall starts on ``project`` (it loads PythonCall from it). Skipped when a
    ``Manifest.toml`` exists; ``Pkg.offline`` when ``PYTHON_JULIAPKG_OFFLINE=yes``; environment from
    :func:`instantiate_env`. Raises :class:`BackendUnavailableError` on failure or after ``timeout`` seconds.
    """
    if (Path(project) / "Manifest.toml").is_file():
        return
    offline = os.environ.get("PYTHON_JULIAPKG_OFFLINE", "").lower() in {"yes", "true", "1"}
    script = ("import Pkg; " + ("Pkg.offline(true); " if offline else "")
              + "Pkg.instantiate(); Pkg.precompile()")
    logger.warning("installing and precompiling the Julia packages of %s (first use; minutes)", project)
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: Pkg's output cannot block it
        try:
            proc = subprocess.Popen([exe, f"--project={project}", "--startup-file=no", "-e", script],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    text=True, env=instantiate_env())
        except OSError as exc:
            raise BackendUnavailableError(f"could not instantiate the Julia project {project}: {exc}; "
                                          + INSTALL_HINT) from exc

        def finished(wait: float) -> bool:
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                return False
            return True

        try:
            wait_showing_elapsed(finished, timeout, "installing and precompiling the Julia packages")
        except TimeoutError as exc:
            proc.kill()
            proc.wait()
            raise BackendUnavailableError(f"instantiating the Julia project {project} did not finish within "
                                          f"{timeout:g} s: " + PRECOMPILE_HINT) from exc
        log.seek(0)
        output = log.read()
    if proc.returncode != 0:
        raise BackendUnavailableError(f"Pkg.instantiate failed for {project} (exit {proc.returncode}): "
                                      f"{output[-2000:]}")


def wait_showing_elapsed(ready: Callable[[float], bool], timeout: float, desc: str,
                         progress: bool = True) -> float:
    """Call ``ready(slice_seconds)`` (which may block up to that long) until it returns True, showing the
    elapsed time (tqdm on stderr, once the wait passes two seconds). Returns the seconds waited; raises
    :class:`TimeoutError` after ``timeout`` seconds."""
    from tqdm.auto import tqdm

    start = time.monotonic()
    with tqdm(desc=desc, bar_format="{desc}: {elapsed} elapsed", delay=2.0, disable=not progress,
              file=sys.stderr) as bar:
        while True:
            waited = time.monotonic() - start
            if waited >= timeout:
                raise TimeoutError(f"{desc}: not done after {timeout:g} s")
            if ready(min(1.0, timeout - waited)):
                return time.monotonic() - start
            bar.refresh()


class JuliaWorker:
    """A worker process speaking the :mod:`._julia_worker` protocol over its stdin/stdout.

    Args:
        handler: ``"module:Class"`` the worker serves requests with (the Julia handler by default).
        env: environment of the worker process.
        start_timeout: seconds to wait for the worker's start-up reply before killing it.
        progress: show the elapsed time (tqdm, on stderr) when the start takes more than two seconds.
    """

    def __init__(self, handler: str = DEFAULT_HANDLER, env: dict[str, str] | None = None,
                 start_timeout: float = DEFAULT_START_TIMEOUT_S, progress: bool = True) -> None:
        self.handler = handler
        self.env = env
        self.start_timeout = start_timeout
        self.progress = progress
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        """True while the worker process runs."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> dict[str, Any]:
        """Spawn the worker and wait for its start-up reply (:class:`BackendUnavailableError` on failure)."""
        self._proc = subprocess.Popen([sys.executable, "-m", "pysciml.backends._julia_worker", self.handler],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        try:
            waited = self._wait_readable(fd)
            reply = read_message(fd, timeout=max(1.0, self.start_timeout - waited))
        except ProtocolError as exc:
            self.close(force=True)
            if "timed out" in str(exc):
                raise BackendUnavailableError(
                    f"the Julia worker did not start within {self.start_timeout:g} s "
                    f"({START_TIMEOUT_ENV}): " + PRECOMPILE_HINT) from exc
            raise BackendUnavailableError(f"the Julia worker did not start ({exc}); " + INSTALL_HINT) from exc
        if not reply.get("ok"):
            self.close(force=True)
            raise BackendUnavailableError(f"the Julia worker failed to start: {reply.get('error')}; "
                                          + INSTALL_HINT)
        self.info = dict(reply.get("result") or {})
        return self.info

    def _wait_readable(self, fd: int) -> float:
        """Wait until the worker writes (or ``start_timeout`` passes), showing the elapsed time; returns
        the seconds waited. Raises :class:`ProtocolError` on time-out."""
        try:
            return wait_showing_elapsed(lambda wait: bool(select.select([fd], [], [], wait)[0]),
                                        self.start_timeout,
                                        "starting the Julia worker (first start precompiles: minutes)",
                                        progress=self.progress)
        except TimeoutError as exc:
            raise ProtocolError("timed out waiting for the Julia worker") from exc

    def call(self, op: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run ``op`` in the worker and return its result; worker-side errors raise ``RuntimeError``."""
        with self._lock:
            if not self.alive:
                raise BackendUnavailableError("the Julia worker is not running (exited or never started)")
            assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
            try:
                self._proc.stdin.write(encode_message({"op": op, "kwargs": kwargs}))
                self._proc.stdin.flush()
                reply = read_message(self._proc.stdout.fileno(), timeout=timeout)
            except (ProtocolError, BrokenPipeError) as exc:
                self.close(force=True)
                raise BackendUnavailableError(f"lost the Julia worker during {op!r}: {exc}") from exc
        if not reply.get("ok"):
            raise RuntimeError(f"julia backend {op} failed: {reply.get('error')}")
        return reply.get("result")

    def close(self, force: bool = False, timeout: float = 5.0) -> None:
        """Ask the worker to exit (``force``: kill it at once); waits at most ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if not force and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.write(encode_message({"op": "shutdown"}))
                proc.stdin.flush()
                if proc.stdout is not None:
                    read_message(proc.stdout.fileno(), timeout=timeout)
            except (OSError, ProtocolError):
                pass
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=0.0 if force else timeout)
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


_WORKER: JuliaWorker | None = None
_WORKER_LOCK = threading.Lock()
_START_FAILURE: str | None = None


def get_worker() -> JuliaWorker:
    """The shared Julia worker, started on first use (after :func:`probe_julia`) and reused."""
    global _WORKER, _START_FAILURE
    with _WORKER_LOCK:
        if _WORKER is not None and _WORKER.alive:
            return _WORKER
        probe = cached_probe()
        if not probe.available:
            raise BackendUnavailableError(f"the julia backend is not available: {probe.reason}")
        timeout = float(os.environ.get(START_TIMEOUT_ENV, str(DEFAULT_START_TIMEOUT_S)))
        logger.warning("starting the Julia worker (%s); the first use precompiles the SciML packages and can "
                       "take several minutes", probe.reason)
        env = _worker_env(probe)
        worker = JuliaWorker(env=env, start_timeout=timeout)
        try:
            if env.pop("PYSCIML_JULIA_INSTANTIATE", "") == "yes":
                instantiate_project(env["PYTHON_JULIACALL_EXE"], env["PYTHON_JULIACALL_PROJECT"], timeout)
            worker.start()
        except BackendUnavailableError as exc:
            _START_FAILURE = str(exc)
            raise
        _START_FAILURE = None
        _WORKER = worker
        return worker


@atexit.register
def shutdown_worker() -> None:
    """Stop the shared worker (registered with :mod:`atexit`)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is not None:
            _WORKER.close()
            _WORKER = None


# ------------------------------------------------------------------------------------------ backend
class JuliaBackend(Backend):
    """DifferentialEquations.jl solvers (Rosenbrock, Radau, SDIRK, BDF, explicit, exponential) via juliacall.

    Systems: those in :data:`JULIA_SYSTEMS`. Options: ``dt`` (initial step; required by the fixed-step
    exponential methods ETDRK2/3/4, HochOst4, which solve ``SplitODEProblem`` s of the semilinear systems).
    ``n_jobs`` and ``progress`` are not used: the worker's Julia threads (``PYTHON_JULIACALL_THREADS``) run
    the batch with ``EnsembleThreads``.
    """

    name = "julia"

    def methods(self) -> list[str]:
        return list(JULIA_METHODS)

    def availability(self) -> tuple[bool, str]:
        if _WORKER is not None and _WORKER.alive:
            return True, f"Julia worker running (Julia {_WORKER.info.get('julia_version', '?')}, " \
                         f"{_WORKER.info.get('threads', '?')} threads)"
        if _START_FAILURE is not None:
            return False, _START_FAILURE
        probe = cached_probe()
        if probe.available:
            return True, probe.reason + " (worker starts on first use; first start precompiles for minutes)"
        return False, probe.reason

    def solve(self, system: System, y0: np.ndarray, t_eval: np.ndarray, *, method: str, rtol: float,
              atol: float | np.ndarray, max_steps: int, n_jobs: int, progress: bool,
              options: dict[str, Any]) -> Solution:
        name = check_choice(method, "method", self.methods(), case_sensitive=False)
        spec = JULIA_METHODS[name]
        _, params = julia_parameters(system)
        opts = dict(options)
        dt = float(opts.pop("dt", 0.0))
        if opts:
            raise ValidationError(f"unknown option(s) {sorted(opts)} for the julia backend (only dt)")
        if spec.fixed_step and not dt > 0:
            raise ValidationError(f"method {name!r} is fixed-step: pass dt=<step> (e.g. dt=0.01)")
        if spec.split and not JULIA_SYSTEMS[system.name].split:
            raise ValidationError(f"method {name!r} needs a semilinear system (kuramoto_sivashinsky, "
                                  f"transient_growth); use Exprb43 or a Rosenbrock method for "
                                  f"{system.name!r}")
        worker = get_worker()
        start = time.perf_counter()
        abstol = float(atol) if np.ndim(atol) == 0 else np.ascontiguousarray(atol, dtype=np.float64)
        result = worker.call("solve_ensemble", system=system.name, params=params,
                             u0s=np.ascontiguousarray(y0, dtype=np.float64),
                             tsave=np.ascontiguousarray(t_eval), alg=name, reltol=float(rtol), abstol=abstol,
                             maxiters=int(max_steps), dt=dt)
        return solution_from_result(result, t_eval=t_eval, dim=system.dim, method=name, rtol=rtol, atol=atol,
                                    system=system, wall_time=time.perf_counter() - start)
