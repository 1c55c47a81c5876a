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
    """Streaming conservation errors: feed consecutive time chunks ``[n, k, d]``, starting at ``t_0``."""

    def __init__(self, system: System, floor: float = 1e-12) -> None:
        if not (np.isfinite(floor) and floor >= 0):
            raise ValidationError(f"floor must be a finite number >= 0, got {floor!r}")
        self.system, self.floor = system, float(floor)
        self.initial: dict[str, np.ndarray] | None = None
        self.parts: dict[str, list[np.ndarray]] = {}

    def update(self, ys: Any) -> None:
        """Add the chunk ``ys [n, k, d]`` (the first chunk's first time is ``t_0``)."""
        values = self.system.invariants(_check_states(self.system, ys))
        if self.initial is None:
            self.initial = {name: v[:, 0].copy() for name, v in values.items()}
            self.parts = {name: [] for name in values}
        for name, v in values.items():
            self.parts[name].append(np.abs(v - self.initial[name][:, None]))

    def result(self) -> dict[str, ConservationError]:
        """``{invariant: ConservationError}`` (empty for systems without invariants)."""
        out: dict[str, ConservationError] = {}
        for name, parts in self.parts.items():
            init = self.initial[name]
            err = np.concatenate(parts, axis=1)
            relative = bool(np.all(np.abs(init) > self.floor))
            if relative:
                err = err / np.abs(init)[:, None]
            out[name] = ConservationError("relative" if relative else "absolute", init, err)
        return out


def conservation_errors(system: System, ys: Any, floor: float = 1e-12) -> dict[str, ConservationError]:
    """Conservation error ``e_I(t)`` of every invariant of ``system`` along ``ys [n, T, dim]`` (float64).

    Returns ``{name: ConservationError(kind, initial [n], error [n, T])}``; non-finite states give non-finite
    errors (never hidden). ``floor``: the ``|I(x(t_0))|`` below which the error is absolute, not relative.
    """
    tracker = InvariantTracker(system, floor)
    tracker.update(ys)
    return tracker.result()
