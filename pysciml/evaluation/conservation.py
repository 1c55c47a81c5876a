"""Relative conservation error of the invariants a system declares (Janvier et al., arXiv:2602.04608, App. C).

For an invariant ``I`` (``System.invariants``: two-body angular momentum and energy, rigid-body Casimir and
energy, Kuramoto–Sivashinsky spatial mean, Robertson total mass, ...) and a trajectory ``x(t)``:

    e_I(t) = |I(x(t)) − I(x(t_0))| / |I(x(t_0))|.

Where some trajectory starts with ``|I(x(t_0))| <= floor`` (e.g. the KS mean of zero-mean initial fields) the
ratio has no meaning; that invariant is then reported as the *absolute* error ``|I(x(t)) − I(x(t_0))|`` for
all trajectories, and its ``kind`` says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..systems import System

__all__ = ["ConservationError", "conservation_errors", "InvariantTracker"]


@dataclasses.dataclass
class ConservationError:
    """Conservation error of one invariant: ``error [n, T]`` and its ``kind`` (``"relative"``/``"absolute"``)."""

    kind: str
    initial: np.ndarray
    error: np.ndarray


def _check_states(system: System, ys: Any) -> np.ndarray:
    arr = np.asarray(ys, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != system.dim:
        raise ValidationError(f"ys must have shape [n, T, {system.dim}] for system {system.name!r}, got "
                              f"{arr.shape}")
    return arr


class InvariantTracker:
    """Streaming conservation errors: feed consecutive time chunks ``[n, k, d]`` of ``n_times`` in all, from ``t_0``.

    The error curves ``[n, n_times]`` are allocated once (memory independent of the chunking).
    """

    def __init__(self, system: System, n_times: int, floor: float = 1e-12) -> None:
        if not (np.isfinite(floor) and floor >= 0):
            raise ValidationError(f"floor must be a finite number >= 0, got {floor!r}")
        self.system, self.n_times, self.floor = system, int(n_times), float(floor)
        self.initial: dict[str, np.ndarray] = {}
        self.errors: dict[str, np.ndarray] = {}
        self.filled = 0

    def update(self, ys: Any) -> None:
        """Add the chunk ``ys [n, k, d]`` (the first chunk's first time is ``t_0``)."""
        values = self.system.invariants(_check_states(self.system, ys))
        a, b = self.filled, self.filled + np.shape(ys)[1]
        if b > self.n_times:
            raise ValidationError(f"more than n_times={self.n_times} times were fed to the tracker")
        for name, v in values.items():
            if a == 0:
                self.initial[name] = v[:, 0].copy()
                self.errors[name] = np.empty((v.shape[0], self.n_times))
            self.errors[name][:, a:b] = np.abs(v - self.initial[name][:, None])
        self.filled = b

    def result(self) -> dict[str, ConservationError]:
        """``{invariant: ConservationError}`` over the times fed so far (empty for systems without invariants)."""
        out: dict[str, ConservationError] = {}
        for name, err in self.errors.items():
            init = self.initial[name]
            err = err[:, :self.filled]
            relative = bool(np.all(np.abs(init) > self.floor))
            if relative:
                err /= np.abs(init)[:, None]
            out[name] = ConservationError("relative" if relative else "absolute", init, err)
        return out


def conservation_errors(system: System, ys: Any, floor: float = 1e-12) -> dict[str, ConservationError]:
    """Conservation error ``e_I(t)`` of every invariant of ``system`` along ``ys [n, T, dim]`` (float64).

    Returns ``{name: ConservationError(kind, initial [n], error [n, T])}``; non-finite states give non-finite
    errors (never hidden). ``floor``: the ``|I(x(t_0))|`` below which the error is absolute, not relative.
    """
    arr = _check_states(system, ys)
    tracker = InvariantTracker(system, arr.shape[1], floor)
    tracker.update(arr)
    return tracker.result()
