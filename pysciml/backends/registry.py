"""Backend registry: names → backend objects, availability, and the ``"auto"`` choice."""

from __future__ import annotations

import importlib
import logging

from ..errors import BackendUnavailableError
from ..validation import check_choice
from .base import Backend

logger = logging.getLogger("pysciml.backends")

#: Backend name → "module:Class". Backends are imported only when asked for (Julia is optional).
_BACKENDS: dict[str, str] = {
    "python": "pysciml.backends.python:PythonBackend",
    "julia": "pysciml.backends.julia:JuliaBackend",
}
_INSTANCES: dict[str, Backend] = {}


def backend_names() -> list[str]:
    """Names of all known backends (available or not)."""
    return list(_BACKENDS)


def get_backend(name: str) -> Backend:
    """The backend object called ``name`` (not checked for availability)."""
    key = check_choice(name, "backend", backend_names() + ["auto"], case_sensitive=False)
    if key == "auto":
        raise ValueError("get_backend needs a concrete backend; use resolve_backend('auto', method)")
    if key not in _INSTANCES:
        module, cls = _BACKENDS[key].split(":")
        _INSTANCES[key] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[key]


def _find_method(backend: Backend, method: str) -> str | None:
    lowered = {m.lower(): m for m in backend.methods()}
    return lowered.get(method.lower())


def resolve_backend(name: str, method: str) -> Backend:
    """Pick the backend for ``method``.

    ``"auto"`` takes Julia only when it is available and has the method, else python, and logs the
    choice. A concrete name must be available (else :class:`BackendUnavailableError`).
    """
    key = check_choice(name, "backend", backend_names() + ["auto"], case_sensitive=False)
    if key != "auto":
        backend = get_backend(key)
        ok, reason = backend.availability()
        if not ok:
            raise BackendUnavailableError(f"backend {key!r} is not available: {reason}")
        return backend
    python = get_backend("python")
    julia = get_backend("julia")
    if _find_method(julia, method) is not None:
        ok, reason = julia.availability()
        if ok:
            logger.info("backend='auto': using julia for method %s", method)
            return julia
        if _find_method(python, method) is None:
            raise BackendUnavailableError(f"method {method!r} exists only in the julia backend, which is not "
                                          f"available: {reason}")
        logger.info("backend='auto': julia unavailable (%s); using python for %s", reason, method)
        return python
    logger.info("backend='auto': using python for method %s", method)
    return python


def backend_table() -> list[dict[str, object]]:
    """One row per backend: name, available, reason, methods (for the ``pysciml backends`` command)."""
    rows = []
    for name in backend_names():
        backend = get_backend(name)
        ok, reason = backend.availability()
        rows.append({"name": name, "available": ok, "reason": reason, "methods": backend.methods()})
    return rows
