"""Linear combinations of stage values with constant coefficients, shared by every method family.

Tableau rows are stored as their non-zero entries ``[(j, c_j), ...]`` (:func:`nonzero`); :func:`combine`
forms ``base + Σ_j c_j u_j`` with one multiply and a chain of fused ``torch.add(alpha=)`` — no stacking of the
stages, so small-state, large-batch problems are not dominated by op overhead and the autograd graph stays short.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Coefs = list[tuple[int, float]]


def nonzero(row: np.ndarray) -> Coefs:
    """``(j, row_j)`` for the non-zero entries of a coefficient row."""
    return [(j, float(v)) for j, v in enumerate(row) if v != 0.0]


def combine(coefs: Coefs, terms: Sequence[torch.Tensor], base: torch.Tensor | None = None) -> torch.Tensor | None:
    """``base + Σ_j c_j terms_j`` over ``coefs``; ``None`` when there is neither a base nor a coefficient."""
    out = base
    for j, c in coefs:
        out = terms[j] * c if out is None else torch.add(out, terms[j], alpha=c)
    return out
