"""Shared machinery of the property-based fuzz suite (``tests/fuzz``).

Every public entry point is called with generated arguments, valid and invalid, and the outcome is classified:

* a result (then entry-point specific checks run: shapes, no NaN with a success status, ...);
* a :class:`~pysciml.errors.PySciMLError` (its ``ValueError``/``TypeError`` subclasses included) whose message
  names the offending argument;
* anything else — another exception type, a call over the time limit (``Hang``), a crashed worker process —
  is a defect and fails the test.

Counts of every outcome are collected in :data:`COUNTS` and printed at the end of the session (the slow run's
numbers go into README's "Reliability" section). Runs are derandomised: the same examples every time.

Linear algebra on user data (LAPACK: eigenvalues, SVD) runs in a worker process (:func:`isolated`), so that a
segmentation fault or a hang inside a C routine is detected and reported instead of killing the test process.
"""

from __future__ import annotations

import collections
import concurrent.futures
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pysciml.errors import PySciMLError

#: Outcome counts of the session: "examples", "ok", one entry per pysciml error class, "unhandled:<type>",
#: "hang", "crash", "silent_nan".
COUNTS: collections.Counter[str] = collections.Counter()

#: Examples per core fuzz target in the default run and in the ``slow`` run (8 core targets x 1,300 > 10,000);
#: ``PYSCIML_FUZZ_EXAMPLES`` overrides the default budget for exploration. Light targets (data, training,
#: compat: slower calls) run a quarter of it.
BUDGET = {"default": int(os.environ.get("PYSCIML_FUZZ_EXAMPLES", "12")), "slow": 1300}

#: The first defect message of each target run with an ``owner`` (reported in the session summary).
OWNED_DEFECTS: dict[str, str] = {}

#: Prefix of the count keys while a target whose defects belong to another work item runs (see ``run``).
_PREFIX = [""]


def _count(key: str) -> None:
    COUNTS[_PREFIX[0] + key] += 1

#: Wall-clock limit of one call (seconds); generous because the test machine is shared.
TIME_LIMIT = 60.0


class Hang(Exception):
    """A call ran past :data:`TIME_LIMIT`."""


class Defect(AssertionError):
    """A fuzzed call ended in an outcome that the API guarantees never happens."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM; no limit elsewhere)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Hang(f"call exceeded {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_error(exc: BaseException, names: tuple[str, ...]) -> None:
    """The exception must be a PySciMLError whose message mentions one of ``names`` (when given)."""
    if isinstance(exc, Hang):
        _count("hang")
        _defect(f"hang: {exc}")
    if not isinstance(exc, PySciMLError):
        _count(f"unhandled:{type(exc).__name__}")
        _defect(f"unhandled {type(exc).__name__}: {exc}")
    _count(type(exc).__name__)
    message = str(exc)
    if not message.strip():
        raise Defect(f"{type(exc).__name__} with an empty message")
    if names and not any(n.lower() in message.lower() for n in names):
        raise Defect(f"{type(exc).__name__} message does not name any of {names}: {message!r}")


def _defect(message: str) -> None:
    if _PREFIX[0]:
        OWNED_DEFECTS.setdefault(_PREFIX[0].rstrip("/"), message[:300])
    raise Defect(message)


def call(fn: Callable[..., Any], *args: Any, names: tuple[str, ...] = (), **kwargs: Any) -> tuple[bool, Any]:
    """Run ``fn(*args, **kwargs)`` under the time limit; ``(True, result)`` or ``(False, error)``.

    Raises :class:`Defect` for any outcome other than a result or a well-formed pysciml error.
    """
    _count("examples")
    try:
        with time_limit(TIME_LIMIT):
            out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - classification is the point
        check_error(exc, names)
        return False, exc
    _count("ok")
    return True, out


def no_silent_nan(ys: torch.Tensor | np.ndarray, success: torch.Tensor | np.ndarray) -> None:
    """Rows reported successful must be finite."""
    y = torch.as_tensor(np.asarray(ys) if isinstance(ys, np.ndarray) else ys.detach())
    ok = torch.as_tensor(np.asarray(success) if isinstance(success, np.ndarray) else success).bool()
    if ok.any():
        finite = torch.isfinite(y[ok].reshape(int(ok.sum()), -1)).all(dim=1)
        if not bool(finite.all()):
            _count("silent_nan")
            raise Defect("a row with a success status holds NaN/Inf")


def run(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], budget: str, *, light: bool = False,
        owner: str | None = None) -> None:
    """Run ``check`` on ``BUDGET[budget]`` derandomised examples of ``strategy`` (a quarter if ``light``).

    ``owner`` names the work item that fixes this target's known defects (the test is marked xfail): its
    outcomes are counted under ``"<owner>/…"`` keys, apart from the guarantees of this suite, and a failure is
    not shrunk (the first failing example is reported).
    """
    examples = max(2, BUDGET[budget] // 4) if light else BUDGET[budget]
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if owner else [Phase.shrink])

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=phases)
    @given(strategy)
    def inner(example: Any) -> None:
        check(example)

    _PREFIX[0] = f"{owner}/" if owner else ""
    try:
        inner()
    finally:
        _PREFIX[0] = ""


# ------------------------------------------------------------------------------------------------------------
# strategies for values of every kind
# ------------------------------------------------------------------------------------------------------------

SPECIAL = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 1e-300, 0.0, -0.0, 1e300, 1e9]
FLOAT_DTYPES = [torch.float64, torch.float32]
ODD_DTYPES = [torch.float16, torch.bfloat16, torch.bool, torch.int64, torch.uint8, torch.complex64,
              torch.complex128]


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...] | None = None, *, odd: bool = True,
            special: bool = True, max_dim: int = 4) -> torch.Tensor:
    """A tensor of a drawn (or given) shape and dtype: normal values, possibly special ones (NaN, Inf, huge,
    subnormal), possibly non-contiguous or expanded."""
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, max_dim), min_size=0, max_size=3)))
    dtypes = FLOAT_DTYPES + (ODD_DTYPES if odd else [])
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2 ** 16))
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=gen, dtype=torch.float64)
    if special and shape and int(np.prod(shape)) > 0 and draw(st.booleans()):
        base.view(-1)[draw(st.integers(0, int(np.prod(shape)) - 1))] = draw(st.sampled_from(SPECIAL))
    if dtype.is_complex:
        out = torch.complex(base, base).to(dtype)
    else:
        with np.errstate(all="ignore"):
            out = base.to(dtype)
    layout = draw(st.sampled_from(["plain", "transposed", "expanded"]))
    if layout == "transposed" and out.dim() >= 2:
        out = out.transpose(-1, -2).contiguous().transpose(-1, -2)
    elif layout == "expanded" and out.dim() >= 1 and out.shape[0] == 1:
        out = out.expand(3, *out.shape[1:])
    return out


def junk() -> st.SearchStrategy[Any]:
    """Values of the wrong kind: None, strings, lists, numbers, objects, numpy arrays, odd tensors."""
    return st.one_of(
        st.none(), st.text(max_size=4), st.integers(-3, 3), st.sampled_from(SPECIAL), st.just(object()),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
        tensors().map(lambda t: t.numpy() if not t.dtype.is_complex and t.dtype != torch.bfloat16 else t),
        tensors(),
    )


def maybe(valid: st.SearchStrategy[Any], p_junk: int = 3) -> st.SearchStrategy[Any]:
    """A ``valid`` value ``p_junk`` times in ``p_junk + 1``, else :func:`junk` (``one_of`` would flatten junk's
    alternatives and let them outnumber the valid branch)."""
    return st.integers(0, p_junk).flatmap(lambda k: junk() if k == p_junk else valid)


# ------------------------------------------------------------------------------------------------------------
# a worker process for LAPACK on user data
# ------------------------------------------------------------------------------------------------------------

_POOL: concurrent.futures.ProcessPoolExecutor | None = None


def _pool() -> concurrent.futures.ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ProcessPoolExecutor(max_workers=1,
                                                       mp_context=multiprocessing.get_context("spawn"))
    return _POOL


def _reset_pool() -> None:
    global _POOL
    if _POOL is not None:
        for proc in list(getattr(_POOL, "_processes", {}).values()):
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
        _POOL.shutdown(wait=False, cancel_futures=True)
    _POOL = None


def isolated(fn: Callable[..., Any], *args: Any, names: tuple[str, ...] = (), **kwargs: Any) -> tuple[bool, Any]:
    """:func:`call` in the worker process: a crash (segfault) or a hang there is counted and raised as a
    :class:`Defect`; ``fn`` and the arguments must be picklable (module-level functions, tensors)."""
    _count("examples")
    future = _pool().submit(_remote_call, fn, args, kwargs)
    try:
        kind, value = future.result(timeout=TIME_LIMIT)
    except concurrent.futures.TimeoutError as exc:
        _reset_pool()
        _count("hang")
        raise Defect(f"hang in the worker: {getattr(fn, '__name__', fn)}") from exc
    except concurrent.futures.process.BrokenProcessPool as exc:
        _reset_pool()
        _count("crash")
        raise Defect(f"the worker process crashed in {getattr(fn, '__name__', fn)}") from exc
    if kind == "ok":
        _count("ok")
        return True, value
    check_error(value, names)
    return False, value


def _remote_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    torch.set_num_threads(1)
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - sent back to be classified
        try:
            import pickle

            pickle.dumps(exc)
            return "error", exc
        except Exception:  # noqa: BLE001
            return "error", RuntimeError(f"{type(exc).__name__}: {exc}")
