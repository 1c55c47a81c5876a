"""Free rigid body, Euler's equations for the angular momentum (seed 001, Janvier et al. 2026, eq. 12).

    y' = [[0, -y3, y2], [y3, 0, -y1], [-y2, y1, 0]] · (y1/I1, y2/I2, y3/I3),

i.e. ``y1' = (1/I3 - 1/I2) y2 y3``, ``y2' = (1/I1 - 1/I3) y3 y1``, ``y3' = (1/I2 - 1/I1) y1 y2``, with
principal moments ``I = (1.6, 1, 2/3)`` (seed 001 App. B.1, after White et al. 2024 / Hairer et al. 2006).
Invariants: the Casimir ``C = |y|²/2`` and the energy ``H = Σ yᵢ²/(2 Iᵢ)``. Initial conditions as in
seed 001 §4.2: ``(cos φ, 0, sin φ)`` with ``φ ~ U(0.5, 1.5)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._common import Array, check_interval, check_positive, namespace, stack_last
from .base import System, SystemParams


@dataclasses.dataclass(frozen=True)
class RigidBodyParams(SystemParams):
    """Principal moments of inertia and the sampling range of the initial angle ``φ``."""

    inertia: tuple[float, float, float] = (1.6, 1.0, 2.0 / 3.0)
    phi_range: tuple[float, float] = (0.5, 1.5)

    def __post_init__(self) -> None:
        try:
            values = tuple(check_positive(f"inertia[{i}]", v) for i, v in enumerate(self.inertia))
        except TypeError as exc:
            raise ValueError(f"inertia must be three positive numbers, got {self.inertia!r}") from exc
        if len(values) != 3:
            raise ValueError(f"inertia must be three positive numbers, got {self.inertia!r}")
        object.__setattr__(self, "inertia", values)
        object.__setattr__(self, "phi_range", check_interval("phi_range", self.phi_range))


class RigidBody(System):
    """Euler equations of a free rigid body; conserves ``|y|²/2`` and the energy (seed 001 eq. 12)."""

    name = "rigid_body"
    Params = RigidBodyParams
    default_t_span = (0.0, 15.0)
    params: RigidBodyParams

    @property
    def dim(self) -> int:
        return 3

    def _coeffs(self) -> tuple[float, float, float]:
        i1, i2, i3 = self.params.inertia
        return 1.0 / i3 - 1.0 / i2, 1.0 / i1 - 1.0 / i3, 1.0 / i2 - 1.0 / i1

    def _field(self, y: Array) -> Any:
        """Euler equations ``[batch, 3]``."""
        a1, a2, a3 = self._coeffs()
        y1, y2, y3 = y[..., 0], y[..., 1], y[..., 2]
        return stack_last(namespace(y), [a1 * y2 * y3, a2 * y3 * y1, a3 * y1 * y2])

    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """``[batch, 3, 3]``."""
        y = np.asarray(y, dtype=np.float64)
        a1, a2, a3 = self._coeffs()
        y1, y2, y3 = y[..., 0], y[..., 1], y[..., 2]
        jac = np.zeros(y.shape[:-1] + (3, 3))
        jac[..., 0, 1], jac[..., 0, 2] = a1 * y3, a1 * y2
        jac[..., 1, 0], jac[..., 1, 2] = a2 * y3, a2 * y1
        jac[..., 2, 0], jac[..., 2, 1] = a3 * y2, a3 * y1
        return jac

    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``[n, 3]``: ``(cos φ, 0, sin φ)``, ``φ ~ U(phi_range)`` (seed 001 §4.2)."""
        phi = np.random.default_rng(seed).uniform(*self.params.phi_range, size=n)
        return np.stack([np.cos(phi), np.zeros(n), np.sin(phi)], axis=-1)

    def invariants(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Casimir ``|y|²/2`` and kinetic energy ``Σ yᵢ²/(2 Iᵢ)`` of ``y [..., 3]``."""
        y = np.asarray(y, dtype=np.float64)
        inv_i = 1.0 / np.asarray(self.params.inertia)
        return {"casimir": 0.5 * (y * y).sum(-1), "energy": 0.5 * (y * y * inv_i).sum(-1)}
