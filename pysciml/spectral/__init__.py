"""Spectral-element machinery in time (Legendre series on Gauss–Lobatto nodes) for SNet training.

Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural ODEs for System
Identification" (ICLR 2020, arXiv:1906.07038), §4. :func:`legendre_table` and :func:`gauss_lobatto` work on
the reference interval ``[-1, 1]``; :class:`SpectralMesh` maps them to any interval, in one or several
elements, and gives ``M``, ``D``, ``M⁻¹``, quadrature, least-squares fitting and evaluation at any ``t``.
"""

from __future__ import annotations

from .legendre import gauss_lobatto, legendre_table
from .mesh import SpectralMesh

__all__ = ["SpectralMesh", "gauss_lobatto", "legendre_table"]
