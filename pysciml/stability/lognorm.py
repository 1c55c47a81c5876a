"""Logarithmic matrix norms ``μ_p(A) = lim_{h→0+} (‖I + hA‖_p − 1)/h`` for p = 1, 2, ∞.

``μ_2(A) = λ_max((A + Aᵀ)/2)`` (the numerical abscissa), ``μ_1(A) = max_j (a_jj + Σ_{i≠j} |a_ij|)``
(columns), ``μ_∞(A) = max_i (a_ii + Σ_{j≠i} |a_ij|)`` (rows). See Söderlind (2006) and methods.md §7;
``‖e^{tA}‖_p ≤ e^{t μ_p(A)}`` for ``t ≥ 0``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import ValidationError
from ._utils import as_square, lapack

_P_VALUES = {1: 1, 2: 2, math.inf: math.inf, "inf": math.inf, "fro": None}


def log_norm(a: Any, p: float | str = 2) -> torch.Tensor:
    """Logarithmic norm ``μ_p(A)`` of a real matrix (batched over leading dimensions).

    Args:
        a: matrix ``[..., d, d]`` (tensor or array; taken in float64, no gradient).
        p: 1, 2 or ``inf`` (``math.inf`` or ``"inf"``).

    Returns:
        ``μ_p(A)`` as a float64 tensor of shape ``[...]``.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, str)) or p not in _P_VALUES or _P_VALUES[p] is None:
        raise ValidationError(f"p must be 1, 2 or inf for log_norm, got {p!r}")
    p = _P_VALUES[p]
    m = as_square(a, "A", batched=True)
    if p == 2:
        return lapack(torch.linalg.eigvalsh, 0.5 * (m + m.transpose(-1, -2)), "A")[..., -1]
    diag = torch.diagonal(m, dim1=-2, dim2=-1)
    off = m.abs() - torch.diag_embed(diag.abs())
    sums = off.sum(dim=-2) if p == 1 else off.sum(dim=-1)  # column sums for p=1, row sums for p=inf
    return (diag + sums).max(dim=-1).values
