"""Jacobian quantities and Jacobian regularisers (seeds 000 and 001; methods.md §9).

Functions (batched over points ``x [B, d]``): :func:`exact_jacobian`, :func:`jacobian_frobenius`,
:func:`jacobian_spectral`, :func:`smallest_singular_value`, :func:`jacobian_condition`,
:func:`jacobian_directional`, :func:`jvp`, :func:`vjp`. Regulariser modules: :class:`JacobianFrobenius`,
:class:`JacobianSpectral`, :class:`JacobianCondition`, :class:`JacobianAD`, :class:`JacobianFD`,
:class:`KineticEnergy`.
"""

from __future__ import annotations

from .jacobian import (
    exact_jacobian,
    jacobian_condition,
    jacobian_directional,
    jacobian_frobenius,
    jacobian_spectral,
    jvp,
    random_directions,
    smallest_singular_value,
    vjp,
)
from .losses import (
    JacobianAD,
    JacobianCondition,
    JacobianFD,
    JacobianFrobenius,
    JacobianSpectral,
    KineticEnergy,
    Regularizer,
    flatten_points,
)

__all__ = [
    "exact_jacobian", "jacobian_condition", "jacobian_directional", "jacobian_frobenius", "jacobian_spectral",
    "jvp", "random_directions", "smallest_singular_value", "vjp",
    "JacobianAD", "JacobianCondition", "JacobianFD", "JacobianFrobenius", "JacobianSpectral", "KineticEnergy",
    "Regularizer", "flatten_points",
]
