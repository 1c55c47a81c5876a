"""Legendre polynomials, their derivatives and the Legendre–Gauss–Lobatto (LGL) rule on ``[-1, 1]``.

Everything is computed with the three-term recurrences (no Vandermonde matrix is formed or inverted):

    P_0 = 1,  P_1 = τ,  (k + 1) P_{k+1}(τ) = (2k + 1) τ P_k(τ) − k P_{k−1}(τ),
    P'_{k+1}(τ) = P'_{k−1}(τ) + (2k + 1) P_k(τ).

The ``p + 1`` LGL nodes are ``τ_0 = −1``, ``τ_p = 1`` and the ``p − 1`` roots of ``P_p'``; the weights are
``w_j = 2 / (p (p + 1) P_p(τ_j)²)`` and the rule integrates polynomials of degree ``≤ 2p − 1`` exactly
(Canuto, Hussaini, Quarteroni & Zang, "Spectral Methods in Fluid Dynamics", 1988, §2.3).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ValidationError
from ..validation import check_positive_int

__all__ = ["legendre_table", "gauss_lobatto", "check_order"]


def check_order(p: int) -> int:
    """``p`` as an int ``>= 2`` (an LGL rule of order ``p`` needs at least one interior node)."""
    p = check_positive_int(p, "p (the polynomial order)")
    if p < 2:
        raise ValidationError(f"p (the polynomial order) must be >= 2 (p + 1 Gauss-Lobatto nodes incl. both "
                              f"ends), got {p}; the paper uses p = 14")
    return p


def legendre_table(p: int, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P_i(τ)`` and ``P_i'(τ)`` for ``i = 0..p`` at points ``τ [n]``: two arrays ``[n, p + 1]`` (float64)."""
    tau = np.asarray(tau, dtype=np.float64).reshape(-1)
    val = np.zeros((tau.size, p + 1))
    der = np.zeros((tau.size, p + 1))
    val[:, 0] = 1.0
    if p >= 1:
        val[:, 1] = tau
        der[:, 1] = 1.0
    for k in range(1, p):
        val[:, k + 1] = ((2 * k + 1) * tau * val[:, k] - k * val[:, k - 1]) / (k + 1)
        der[:, k + 1] = der[:, k - 1] + (2 * k + 1) * val[:, k]
    return val, der


@lru_cache(maxsize=64)
def _lgl(p: int) -> tuple[np.ndarray, np.ndarray]:
    # Newton on P_p'(τ) = 0 from the Chebyshev–Gauss–Lobatto points; P_p'' from Legendre's equation
    # (1 − τ²) P'' = 2τ P' − p(p + 1) P.
    tau = -np.cos(np.pi * np.arange(1, p) / p)
    for _ in range(100):
        val, der = legendre_table(p, tau)
        pp, dp = val[:, p], der[:, p]
        d2 = (2 * tau * dp - p * (p + 1) * pp) / (1 - tau * tau)
        step = dp / d2
        tau = tau - step
        if np.max(np.abs(step), initial=0.0) < 1e-15:
            break
    nodes = np.concatenate([[-1.0], np.sort(tau), [1.0]])
    pp = legendre_table(p, nodes)[0][:, p]
    weights = 2.0 / (p * (p + 1) * pp * pp)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def gauss_lobatto(p: int) -> tuple[np.ndarray, np.ndarray]:
    """LGL nodes ``τ [p + 1]`` (increasing, ``τ_0 = −1``, ``τ_p = 1``) and weights ``w [p + 1]`` on ``[−1, 1]``."""
    nodes, weights = _lgl(check_order(p))
    return nodes.copy(), weights.copy()
