"""In-memory trajectory data: splitting by trajectory, rollout windows and a torch ``Dataset`` view."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputTypeError, ValidationError
from ..status import Status
from ..validation import check_positive_int, check_time_grid


def _real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array; non-numeric, complex or object input is an :class:`InputTypeError`."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            raise InputTypeError(f"{name} must be a real numeric array, got a {value.dtype} tensor")
        value = value.to(torch.float64).numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be a real numeric array, got {type(value).__name__}") from exc
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must be a real numeric array, got dtype {arr.dtype} "
                             f"({type(value).__name__}); pass float values")
    return arr.astype(np.float64)


@dataclasses.dataclass
class TrajectoryData:
    """A batch of trajectories sampled on a common time grid.

    Attributes:
        t: times ``[T]`` (strictly increasing, float64).
        y: states ``[n, T, dim]`` (float64).
        meta: metadata (system, parameters, solver, seed, …) as read from the HDF5 attributes.
        status: per-trajectory :class:`~pysciml.status.Status` codes ``[n]`` (all success if not given).
    """

    t: np.ndarray
    y: np.ndarray
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.t = check_time_grid(self.t, "t", min_len=1)
        self.y = _real_array(self.y, "y")
        if self.y.ndim != 3 or self.y.shape[1] != self.t.size:
            raise ValidationError(f"y must have shape [n, T={self.t.size}, dim], got {self.y.shape}")
        if not isinstance(self.meta, dict):
            raise InputTypeError(f"meta must be a dict of metadata, got {type(self.meta).__name__}")
        if self.status is None:
            self.status = np.zeros(self.y.shape[0], dtype=np.int8)
        status = _real_array(self.status, "status")
        codes = {int(s) for s in Status}
        if status.shape != (self.y.shape[0],):
            raise ValidationError(f"status must have shape [{self.y.shape[0]}], got {status.shape}")
        if not np.all(np.isin(status, list(codes))):
            raise ValidationError(f"status must hold pysciml.status.Status codes {sorted(codes)}, got "
                                  f"{np.unique(status[~np.isin(status, list(codes))])[:5].tolist()}")
        self.status = status.astype(np.int8)

    @property
    def n(self) -> int:
        """Number of trajectories."""
        return int(self.y.shape[0])

    @property
    def dim(self) -> int:
        """State dimension."""
        return int(self.y.shape[2])

    def __len__(self) -> int:
        return self.n

    def subset(self, index: np.ndarray | Sequence[int]) -> TrajectoryData:
        """Trajectories ``index`` (copies), with the same metadata."""
        idx = np.asarray(index, dtype=np.int64)
        return TrajectoryData(self.t.copy(), self.y[idx].copy(), dict(self.meta), self.status[idx].copy())

    def subsample_time(self, stride: int) -> TrajectoryData:
        """Every ``stride``-th output time (``t[::stride]``, ``y[:, ::stride]``; copies, same metadata)."""
        stride = check_positive_int(stride, "stride")
        return TrajectoryData(self.t[::stride].copy(), self.y[:, ::stride].copy(), dict(self.meta),
                              self.status.copy())

    def successful(self) -> TrajectoryData:
        """Only the trajectories whose solver status is ``SUCCESS``."""
        return self.subset(np.flatnonzero(self.status == int(Status.SUCCESS)))

    def split(self, fractions: Sequence[float], seed: int = 0) -> tuple[TrajectoryData, ...]:
        """Split by trajectory (never inside one) into parts of the given fractions.

        ``fractions`` must be positive and sum to 1 (e.g. ``(0.8, 0.1, 0.1)``); trajectories are shuffled with
        ``seed`` and each part gets ``round`` of its share, the last part the remainder.
        """
        fr = np.asarray(fractions, dtype=np.float64)
        if fr.ndim != 1 or fr.size < 1 or np.any(fr <= 0) or abs(fr.sum() - 1.0) > 1e-9:
            raise ValidationError(f"fractions must be positive and sum to 1, got {list(fractions)}")
        order = np.random.default_rng(seed).permutation(self.n)
        counts = np.floor(fr * self.n + 0.5).astype(np.int64)
        counts[-1] = self.n - counts[:-1].sum()
        if np.any(counts <= 0):
            raise ValidationError(f"cannot split {self.n} trajectories into fractions {list(fractions)}: "
                                  f"a part would be empty (sizes {counts.tolist()})")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return tuple(self.subset(np.sort(order[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True))

    def _window_index(self, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
        length = check_positive_int(length, "length", minimum=2)
        stride = check_positive_int(stride, "stride")
        if length > self.t.size:
            raise ValidationError(f"window length {length} exceeds the trajectory length {self.t.size}")
        if not np.all(np.isfinite(self.y)):
            raise ValidationError("trajectories contain non-finite values (failed solves); use "
                                  ".successful() first")
        starts = np.arange(0, self.t.size - length + 1, stride)
        traj = np.repeat(np.arange(self.n), starts.size)
        start = np.tile(starts, self.n)
        return traj, start

    def windows(self, length: int, stride: int = 1,
                dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """Rollout windows of ``length`` consecutive samples, starting every ``stride`` samples.

        Returns ``(ts [n_windows, length] float64, ys [n_windows, length, dim] dtype)``, ordered by
        trajectory then start time. Training on windows of length ``N`` is the short-rollout setting of
        seed 001 (N = 2) and seed 003.
        """
        traj, start = self._window_index(length, stride)
        offs = start[:, None] + np.arange(length)[None, :]
        ts = torch.as_tensor(self.t[offs], dtype=torch.float64)
        ys = torch.as_tensor(self.y[traj[:, None], offs], dtype=dtype)
        return ts, ys

    def dataset(self, length: int, stride: int = 1, dtype: torch.dtype = torch.float64) -> WindowDataset:
        """A torch ``Dataset`` of ``(ts [length], ys [length, dim])`` windows (see :meth:`windows`)."""
        ts, ys = self.windows(length, stride, dtype)
        return WindowDataset(ts, ys)

    @classmethod
    def from_solution(cls, solution: Any) -> TrajectoryData:
        """Wrap a :class:`~pysciml.backends.base.Solution` (keeps status and solver metadata)."""
        meta = {"system": solution.system, "system_params": solution.params, "method": solution.method,
                "backend": solution.backend, "rtol": solution.rtol}
        return cls(solution.t, solution.y, meta, solution.status)


class WindowDataset(Dataset):
    """Torch dataset of rollout windows; item ``i`` is ``(ts [length], ys [length, dim])``."""

    def __init__(self, ts: torch.Tensor, ys: torch.Tensor) -> None:
        self.ts = ts
        self.ys = ys

    def __len__(self) -> int:
        return int(self.ys.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ts[i], self.ys[i]
