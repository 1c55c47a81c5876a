"""Robertson's stiff chemical kinetics problem (ROBER of the Bari test set; seed 003 §5.2).

    y1' = -k1 y1 + k3 y2 y3
    y2' =  k1 y1 - k3 y2 y3 - k2 y2²
    y3' =  k2 y2²

with k1 = 0.04, k2 = 3e7, k3 = 1e4 and y1 + y2 + y3 conserved. With ``y2_scale = s`` the state holds
``(y1, s·y2, y3)`` (seed 003 scales y2 by 1e4 so that all species have comparable magnitude).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._common import Array, components, namespace, stack_last
from .base import System, SystemParams


@dataclasses.dataclass(frozen=True)
class RobertsonParams(SystemParams):
    """Rate constants and the optional scaling of the second species."""

    k1: float = 0.04
    k2: float = 3.0e7
    k3: float = 1.0e4
    y2_scale: float = 1.0
    #: Half-width of the uniform perturbation of y1(0) around 1 used by :meth:`initial_conditions`.
    ic_perturbation: float = 0.01

    def __post_init__(self) -> None:
        for key in ("k1", "k2", "k3", "y2_scale"):
            value = getattr(self, key)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{key} must be positive and finite, got {value!r}")
        if not 0 <= self.ic_perturbation < 1:
            raise ValueError(f"ic_perturbation must lie in [0, 1), got {self.ic_perturbation!r}")


class Robertson(System):
    """Robertson kinetics, state ``(y1, s·y2, y3)`` with ``s = y2_scale``. Stiff (eigenvalues ~ -1e4 … 0)."""

    name = "robertson"
    Params = RobertsonParams
    default_t_span = (0.0, 1.0e5)
    stiff = True
    params: RobertsonParams

    @property
    def dim(self) -> int:
        return 3

    def default_t_eval(self, num: int = 101) -> np.ndarray:
        """``t = 0`` then ``num - 1`` log-spaced times on ``[1e-6, 1e5]`` ``[num]``: the fast transient (y2 peaks at
        t ≈ 1e-4 … 1e-3) and the slow decay (t up to 1e5) both get outputs, as in the usual Robertson plots."""
        return np.concatenate([[0.0], np.geomspace(1e-6, self.default_t_span[1], num - 1)])

    def state_names(self) -> list[str]:
        s = self.params.y2_scale
        return ["y1", "y2" if s == 1.0 else f"{s:g}*y2", "y3"]

    def _field(self, y: Array) -> Any:
        """Robertson kinetics ``[batch, 3]`` (with the ``y2_scale`` change of variable)."""
        p = self.params
        scaled = p.y2_scale != 1.0  # skip two array operations per call in the unscaled (common) case
        y1, y2, y3 = components(y)
        if scaled:
            y2 = y2 / p.y2_scale
        r1, r2, r3 = p.k1 * y1, p.k2 * y2 * y2, p.k3 * y2 * y3
        dy2 = r1 - r3 - r2
        return stack_last(namespace(y), [r3 - r1, dy2 * p.y2_scale if scaled else dy2, r2])

    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """``∂f/∂(y1, s·y2, y3)`` ``[..., 3, 3]`` for ``y [..., 3]`` (one state ``[3]`` gives ``[3, 3]``)."""
        p = self.params
        s = p.y2_scale
        y = np.asarray(y, dtype=np.float64)
        _, y2, y3 = components(y)
        y2 = y2 / s
        zero = 0.0 * y3
        # columns: d/dy1, d/d(s*y2) = (1/s) d/dy2, d/dy3
        rows = [[zero - p.k1, p.k3 * y3 / s, p.k3 * y2],
                [zero + p.k1 * s, -p.k3 * y3 - 2.0 * p.k2 * y2, -p.k3 * y2 * s],
                [zero, 2.0 * p.k2 * y2 / s, zero]]
        jac = np.array(rows, dtype=np.float64)  # [3, 3, ...]
        return jac if y.ndim == 1 else np.moveaxis(jac, (0, 1), (-2, -1))

    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``(1 + ε, 0, 0)``, ``ε ~ U(-w, w)``, ``w = ic_perturbation`` (``w = 0``: the classic (1,0,0))."""
        rng = np.random.default_rng(seed)
        y0 = np.zeros((n, 3))
        y0[:, 0] = 1.0 + rng.uniform(-self.params.ic_perturbation, self.params.ic_perturbation, size=n)
        return y0

    def invariants(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Total mass ``y1 + y2 + y3`` (in unscaled units)."""
        return {"mass": y[..., 0] + y[..., 1] / self.params.y2_scale + y[..., 2]}
