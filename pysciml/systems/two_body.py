"""Kepler two-body problem (seed 001, Janvier et al. 2026, eq. 11; Hairer–Lubich–Wanner 2006, §I.2).

State ``U = (x, y, vx, vy)`` of a body attracted by a unit mass fixed at the origin (G M = 1):

    x' = vx,  y' = vy,  vx' = -x / r³,  vy' = -y / r³,   r = (x² + y²)^{1/2}.

Invariants: angular momentum ``L = x vy - y vx`` and energy ``H = (vx² + vy²)/2 - 1/r``. (Seed 001
prints the angular momentum as ``x y - ẋ ẏ``, a typo for ``x ẏ - y ẋ``; we use the correct form.)
Initial conditions as in seed 001 §4.1 (after White et al. 2024): ``(1 - e, 0, 0, √((1+e)/(1-e)))`` with
eccentricity ``e ~ U(0.5, 0.7)`` — the pericentre of an orbit with semi-major axis 1 and period 2π.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._common import Array, check_interval, namespace
from .base import System, SystemParams


@dataclasses.dataclass(frozen=True)
class TwoBodyParams(SystemParams):
    """Range ``(e_min, e_max)`` of the uniformly sampled eccentricity (``0 <= e_min <= e_max < 1``)."""

    eccentricity: tuple[float, float] = (0.5, 0.7)

    def __post_init__(self) -> None:
        lo, hi = check_interval("eccentricity", self.eccentricity, 0.0, 1.0)
        if hi >= 1.0:
            raise ValueError(f"eccentricity must stay below 1 (bound orbits), got {self.eccentricity!r}")
        object.__setattr__(self, "eccentricity", (lo, hi))


class TwoBody(System):
    """Kepler problem ``(x, y, vx, vy)``; conserves angular momentum and energy (seed 001 eq. 11)."""

    name = "two_body"
    Params = TwoBodyParams
    default_t_span = (0.0, 8.0)
    params: TwoBodyParams

    @property
    def dim(self) -> int:
        return 4

    def state_names(self) -> list[str]:
        return ["x", "y", "vx", "vy"]

    def _field(self, y: Array) -> Any:
        """Kepler problem ``[batch, 4]``."""
        xp = namespace(y)
        q, v = y[..., :2], y[..., 2:]
        r2 = (q * q).sum(-1, keepdims=True)
        return xp.concatenate([v, -q / (r2 * xp.sqrt(r2))], axis=-1)

    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """``[batch, 4, 4]``: ``∂(-q/r³)/∂q = -I/r³ + 3 q qᵀ/r⁵``."""
        y = np.asarray(y, dtype=np.float64)
        q = y[..., :2]
        r2 = (q * q).sum(-1)
        r3, r5 = r2 ** 1.5, r2 ** 2.5
        jac = np.zeros(y.shape[:-1] + (4, 4))
        jac[..., 0, 2] = jac[..., 1, 3] = 1.0
        jac[..., 2:, :2] = 3.0 * q[..., :, None] * q[..., None, :] / r5[..., None, None]
        jac[..., 2, 0] -= 1.0 / r3
        jac[..., 3, 1] -= 1.0 / r3
        return jac

    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``[n, 4]``: ``(1 - e, 0, 0, √((1+e)/(1-e)))``, ``e ~ U(e_min, e_max)`` (seed 001 §4.1)."""
        e = np.random.default_rng(seed).uniform(*self.params.eccentricity, size=n)
        y0 = np.zeros((n, 4))
        y0[:, 0] = 1.0 - e
        y0[:, 3] = np.sqrt((1.0 + e) / (1.0 - e))
        return y0

    def invariants(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Angular momentum ``x vy - y vx`` and energy ``|v|²/2 - 1/r`` of ``y [..., 4]``."""
        y = np.asarray(y, dtype=np.float64)
        x, yy, vx, vy = (y[..., i] for i in range(4))
        return {"angular_momentum": x * vy - yy * vx,
                "energy": 0.5 * (vx * vx + vy * vy) - 1.0 / np.sqrt(x * x + yy * yy)}
