"""Low-rank bilinear nonlinearity ``N(u) = C [(U u) ⊙ (V u)]`` (seed 003 §2.2; methods.md §1.4).

Purely quadratic (no linear part), so ``N(0) = 0`` and ``DN(0) = 0``: it does not alter the linearisation
``A`` at the origin, and ``‖DN(u)‖ ≤ ‖C‖(‖U‖‖Vu‖ + ‖V‖‖Uu‖) → 0`` as ``u → 0``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..validation import check_positive_int, real_number
from ._checks import check_features
from ._config import configurable


@configurable
class BilinearLowRank(nn.Module):
    """``N_i(u) = Σ_k C_ik (U_k · u)(V_k · u)`` with ``U, V [rank, dim]``, ``C [dim, rank]``.

    Args:
        dim: state dimension.
        rank: number of quadratic terms ``r``.
        init_scale: scale of the random initial factors (divided by ``sqrt(dim)``).
    """

    def __init__(self, dim: int, rank: int, init_scale: float = 0.1) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.rank = check_positive_int(rank, "rank")
        s = real_number(init_scale, "init_scale") / math.sqrt(self.dim)
        self.U = nn.Parameter(s * torch.randn(self.rank, self.dim))
        self.V = nn.Parameter(s * torch.randn(self.rank, self.dim))
        self.C = nn.Parameter(s * torch.randn(self.dim, self.rank))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u [..., dim] → [..., dim]``."""
        check_features(u, "u", self.dim, self)
        return ((u @ self.U.T) * (u @ self.V.T)) @ self.C.T
