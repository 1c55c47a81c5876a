"""The contract every ground-truth backend fulfils: :class:`Solution` and :class:`Backend`."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..status import Status
from ..systems.base import System


@dataclasses.dataclass
class Solution:
    """Result of :func:`pysciml.solve` for a batch of trajectories (numpy, float64).

    Attributes:
        t: output times ``[T]``.
        y: states ``[batch, T, dim]``; rows of failed trajectories after the failure are NaN and
            flagged in ``status`` (never silently).
        status: per-trajectory :class:`~pysciml.status.Status` codes ``[batch]`` (int8).
        messages: per-trajectory solver messages.
        nfev, njev, steps: per-trajectory statistics ``[batch]`` (int64; -1 where the backend cannot tell).
        wall_time: seconds spent solving (whole batch).
        method, backend: names actually used.
        rtol, atol: tolerances used (``atol`` may be per component).
        system: system name; ``params`` its parameters.
    """

    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    messages: list[str]
    nfev: np.ndarray
    njev: np.ndarray
    steps: np.ndarray
    wall_time: float
    method: str
    backend: str
    rtol: float
    atol: float | np.ndarray
    system: str
    params: dict[str, Any]

    @property
    def success(self) -> np.ndarray:
        """Boolean mask ``[batch]`` of trajectories that finished successfully."""
        return self.status == int(Status.SUCCESS)

    @property
    def all_success(self) -> bool:
        """True when every trajectory finished successfully."""
        return bool(np.all(self.success))

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def summary(self) -> str:
        """One-paragraph human summary (counts per status, cost, time)."""
        counts = {Status(int(s)).name.lower(): int(np.sum(self.status == s)) for s in np.unique(self.status)}
        return (f"{len(self)} trajectories of {self.system} with {self.method} ({self.backend} backend), "
                f"rtol={self.rtol:g}: status {counts}; mean steps {np.mean(self.steps):.1f}, "
                f"mean nfev {np.mean(self.nfev):.1f}; {self.wall_time:.2f} s")


class Backend(ABC):
    """A ground-truth backend: solves a catalogue system for a batch of initial states."""

    #: Registry name (``"python"``, ``"julia"``).
    name: str = ""

    @abstractmethod
    def methods(self) -> list[str]:
        """Method names this backend supports."""

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """``(available, reason)``; ``reason`` explains what is missing and how to install it."""

    @abstractmethod
    def solve(self, system: System, y0: np.ndarray, t_eval: np.ndarray, *, method: str, rtol: float,
              atol: float | np.ndarray, max_steps: int, n_jobs: int, progress: bool,
              options: dict[str, Any]) -> Solution:
        """Solve ``system`` from ``y0 [batch, dim]`` and return values at ``t_eval [T]`` (``t_eval[0]`` is t0).

        Inputs arrive validated by :func:`pysciml.solve`.
        """
