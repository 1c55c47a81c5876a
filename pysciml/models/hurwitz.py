"""Hurwitz-parameterised linear operator ``A = (J − R) Q − γ I`` (seed 003 §3; methods.md §1.2).

``J = K − Kᵀ`` (``K`` strictly lower triangular) is skew, ``R = L_R L_Rᵀ + εI`` and ``Q = L_Q L_Qᵀ + εI``
are SPD (``L_R``, ``L_Q`` lower triangular). Then ``V(x) = xᵀ Q x`` gives ``AᵀQ + QA = −2QRQ − 2γQ``, so
every eigenvalue satisfies ``Re λ < −γ`` for all parameter values. A negative ``γ`` moves the bound into
the right half-plane (growing modes, e.g. Kuramoto–Sivashinsky, seed 003 §5.3).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_positive_int, real_number
from ._checks import check_features
from ._config import configurable


@configurable
class HurwitzLinear(nn.Module):
    """Linear map ``z ↦ A z`` with ``A = (J − R) Q − γ I`` and ``max Re λ(A) < −γ`` by construction.

    Args:
        dim: state dimension ``d``.
        shift: ``γ`` (any finite float; negative allows growth up to ``e^{|γ| t}``).
        eps: ``ε > 0`` added to ``R`` and ``Q`` to make them strictly positive definite.
        init_scale: standard deviation of the random initial entries (around ``L_R = L_Q = I``).
        init_rates: optional stiff-aware initialisation: ``d`` positive decay rates ``r_i``; then
            ``L_R = diag(sqrt(r))``, ``L_Q = I`` and ``K = 0`` (plus ``init_scale`` noise on ``K``), so the
            initial spectrum is ``≈ -r - γ`` (e.g. ``torch.logspace(-1, 4, d)`` for multi-scale kinetics such
            as Robertson, whose fast modes a small random start would take many epochs to reach).
    """

    def __init__(self, dim: int, shift: float = 0.0, eps: float = 1e-3, init_scale: float = 0.1,
                 init_rates: Any = None) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        shift, eps, init_scale = real_number(shift, "shift"), real_number(eps, "eps"), real_number(init_scale,
                                                                                               "init_scale")
        if not eps > 0:
            raise ValidationError(f"eps must be > 0 (it makes R and Q positive definite), got {eps!r}")
        self.shift, self.eps = float(shift), float(eps)
        eye = torch.eye(self.dim)
        self.K = nn.Parameter(init_scale * torch.randn(self.dim, self.dim))
        self.L_R = nn.Parameter(eye + init_scale * torch.randn(self.dim, self.dim))
        self.L_Q = nn.Parameter(eye + init_scale * torch.randn(self.dim, self.dim))
        if init_rates is not None:
            rates = torch.as_tensor(init_rates, dtype=torch.float32).flatten()
            if rates.shape != (self.dim,) or not bool(torch.all(torch.isfinite(rates) & (rates > 0))):
                raise ValidationError(f"init_rates must hold {self.dim} positive finite rates, got {init_rates!r}")
            with torch.no_grad():
                self.L_R.copy_(torch.diag(rates.sqrt()))
                self.L_Q.copy_(eye)
                self.K.copy_(init_scale * torch.tril(torch.randn(self.dim, self.dim), -1))

    def factors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(J, R, Q)``: skew, SPD, SPD, each ``[d, d]``."""
        k = torch.tril(self.K, diagonal=-1)
        eye = torch.eye(self.dim, dtype=self.K.dtype, device=self.K.device)
        l_r, l_q = torch.tril(self.L_R), torch.tril(self.L_Q)
        return k - k.T, l_r @ l_r.T + self.eps * eye, l_q @ l_q.T + self.eps * eye

    def matrix(self) -> torch.Tensor:
        """``A [d, d]`` (differentiable in the parameters), for ETD/IMEX ``SplitField`` linear parts."""
        j, r, q = self.factors()
        return (j - r) @ q - self.shift * torch.eye(self.dim, dtype=q.dtype, device=q.device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [..., d] → (A z) [..., d]``."""
        return check_features(z, "z", self.dim, self) @ self.matrix().T
