"""Weakly nonlinear 2-D system with transient growth (seed 003, Alvarez Loya et al., §5.1, eqs. 21–23).

    y' = A y + ε y∘y      (∘: component-wise square)

Seed 003 picks two 2×2 matrices with the same (double) eigenvalue, hence the same spectral abscissa
``α(A) = max Re λ < 0`` and the same long-time decay, but a different *numerical abscissa* (logarithmic
2-norm) ``μ₂(A) = λ_max((A + Aᵀ)/2)``: for ``μ₂ < 0`` the norm ``||e^{tA}||`` decays for all ``t``; for
``μ₂ > 0`` it first grows (transient growth) and then decays. The matrix entries, ε and the nonlinear
function were lost from the seed text, so this is a **reconstruction** (Krovi 2023, which §5.1 follows,
treats quadratic nonlinearities, hence the component-wise square):

    variant="decay":   A = [[-1, 1], [0, -1]]   α = -1, μ₂ = -1/2
    variant="growth":  A = [[-1, 4], [0, -1]]   α = -1, μ₂ = +1   (max ||e^{tA}||₂ ≈ 1.57 at t ≈ 0.87)

Initial conditions (reconstruction; the paper uses 1000 of them): ``y0 ~ U(-r, r)²`` with ``r = ic_scale``.
Semilinear split: ``L = A``, ``N(y) = ε y∘y``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._common import Array, check_choice, check_finite, check_positive, const, namespace
from .base import System, SystemParams

#: Off-diagonal entry of ``A = [[λ, c], [0, λ]]`` per variant (``μ₂(A) = λ + |c|/2``).
_COUPLING = {"decay": 1.0, "growth": 4.0}


@dataclasses.dataclass(frozen=True)
class TransientGrowthParams(SystemParams):
    """``variant`` ('decay' or 'growth'), the double eigenvalue, ε and the IC half-width."""

    variant: str = "growth"
    eigenvalue: float = -1.0
    epsilon: float = 0.1
    ic_scale: float = 1.0

    def __post_init__(self) -> None:
        check_choice("variant", self.variant, tuple(_COUPLING))
        if check_finite("eigenvalue", self.eigenvalue) >= 0:
            raise ValueError(f"eigenvalue must be negative (a Hurwitz linear part), got {self.eigenvalue!r}")
        check_finite("epsilon", self.epsilon)
        check_positive("ic_scale", self.ic_scale)


class TransientGrowth(System):
    """``y' = A y + ε y∘y`` in 2-D with a non-normal Hurwitz ``A`` (seed 003 §5.1, reconstruction)."""

    name = "transient_growth"
    Params = TransientGrowthParams
    semilinear = True
    default_t_span = (0.0, 10.0)
    params: TransientGrowthParams

    @property
    def dim(self) -> int:
        return 2

    def linear_operator(self) -> np.ndarray:
        """``A [2, 2]``."""
        lam = self.params.eigenvalue
        return np.array([[lam, _COUPLING[self.params.variant]], [0.0, lam]])

    def numerical_abscissa(self) -> float:
        """``μ₂(A) = λ_max((A + Aᵀ)/2)`` (sign: initial growth > 0, monotone decay < 0)."""
        a = self.linear_operator()
        return float(np.linalg.eigvalsh(0.5 * (a + a.T))[-1])

    def _nonlinear(self, y: Array) -> Any:
        """``ε y∘y`` ``[batch, 2]``."""
        return self.params.epsilon * y * y

    def _field(self, y: Array) -> Any:
        """``A y + ε y∘y`` ``[batch, 2]``."""
        a = const(namespace(y), self.linear_operator(), y)
        return y @ a.T + self._nonlinear(y)

    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """``A + 2ε diag(y)`` ``[batch, 2, 2]``."""
        y = np.asarray(y, dtype=np.float64)
        jac = np.broadcast_to(self.linear_operator(), y.shape[:-1] + (2, 2)).copy()
        jac[..., 0, 0] += 2.0 * self.params.epsilon * y[..., 0]
        jac[..., 1, 1] += 2.0 * self.params.epsilon * y[..., 1]
        return jac

    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``[n, 2]`` uniform in ``[-ic_scale, ic_scale]²`` (reconstruction)."""
        r = self.params.ic_scale
        return np.random.default_rng(seed).uniform(-r, r, size=(n, 2))
