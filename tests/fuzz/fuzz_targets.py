"""Picklable call targets for :func:`fuzz_harness.isolated` (run in the worker process: LAPACK on user data)."""

from __future__ import annotations

from typing import Any

import torch

from pysciml import stability


class CubicField(torch.nn.Module):
    """``f(t, y) = −diag(1, …, D) y − c y³`` for any ``D``: Jacobian ``−diag(1 + 3c y_i², i = 1 … D)``."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rates = torch.arange(1, y.shape[-1] + 1, dtype=y.dtype)
        out = -rates * y
        return out - self.c * y ** 3 if self.c else out


def jacobian_spectra(c: float, ts: Any, ys: Any) -> torch.Tensor:
    return stability.jacobian_spectra(CubicField(c), ts, ys)


def matrix_function(name: str, a: Any, *args: Any) -> Any:
    """``stability.<name>(a, *args)``; a result object is reduced to its tensors."""
    out = getattr(stability, name)(a, *args)
    if isinstance(out, stability.StiffnessIndex):
        return out.index, out.condition, out.ratio
    if isinstance(out, stability.TransientGrowth):
        return out.norms, out.peak
    return out
