"""Weight-tied neural ODE ``u' = σ(A u + b)`` with slope-bounded activation ``σ' ∈ [α, 1]`` (seed 002).

Its Jacobian is ``diag(σ'(Au + b)) A``; the uniform log-norm bound ``δ = max_{α≤D≤1} μ_2(DA)``
(:func:`pysciml.stability.contractivity_delta`) controls the flow: ``‖u(t) − v(t)‖ ≤ e^{δt}‖u(0) − v(0)‖``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_choice, check_positive_int, real_number
from ._checks import check_features
from ._config import configurable


@configurable
class SlopeBoundedActivation(nn.Module):
    """Activation with ``α ≤ σ'(x) ≤ 1`` everywhere.

    * ``"leaky_relu"``: ``σ(x) = max(x, αx)`` (slopes exactly ``α`` and 1);
    * ``"leaky_tanh"``: ``σ(x) = αx + (1 − α) tanh(x)`` (smooth, ``σ' = α + (1 − α) sech² x``).

    ``alpha ∈ [0, 1]`` is exposed as ``self.alpha`` for the stability tools.
    """

    def __init__(self, kind: str = "leaky_tanh", alpha: float = 0.1) -> None:
        super().__init__()
        self.kind = check_choice(kind, "activation", ("leaky_relu", "leaky_tanh"))
        if not 0.0 <= real_number(alpha, "alpha") <= 1.0:
            raise ValidationError(f"alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "leaky_relu":
            return torch.maximum(x, self.alpha * x)
        return self.alpha * x + (1.0 - self.alpha) * torch.tanh(x)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``σ'(x)`` (elementwise), in ``[α, 1]``."""
        if self.kind == "leaky_relu":
            return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, self.alpha))
        return self.alpha + (1.0 - self.alpha) / torch.cosh(x) ** 2


@configurable
class StableNODE(nn.Module):
    """Vector field ``f(t, u) = σ(A u + b)`` for ``u [B, dim]`` (autonomous), seed 002.

    Args:
        dim: state dimension.
        activation: a :class:`SlopeBoundedActivation`, or its kind name (``"leaky_tanh"``, ``"leaky_relu"``).
        alpha: slope lower bound when ``activation`` is a name.
    """

    def __init__(self, dim: int, activation: SlopeBoundedActivation | str = "leaky_tanh",
                 alpha: float = 0.1) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.activation = (activation if isinstance(activation, SlopeBoundedActivation)
                           else SlopeBoundedActivation(activation, alpha))
        self.A = nn.Parameter(torch.randn(self.dim, self.dim) / math.sqrt(self.dim))
        self.b = nn.Parameter(torch.zeros(self.dim))

    def forward(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``t [B]`` (unused), ``u [B, dim]`` → ``σ(Au + b) [B, dim]``."""
        return self.activation(check_features(u, "u", self.dim, self) @ self.A.T + self.b)

    def jacobian(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Analytic ``∂f/∂u = diag(σ'(Au + b)) A``, ``[B, dim, dim]``."""
        pre = check_features(u, "u", self.dim, self) @ self.A.T + self.b
        return self.activation.derivative(pre).unsqueeze(-1) * self.A

    def contractivity_delta(self, method: str = "auto") -> Any:
        """``max_{α≤D≤1} μ_2(DA)`` for the current ``A`` (:func:`pysciml.stability.contractivity_delta`)."""
        from ..stability import contractivity_delta

        return contractivity_delta(self.A, self.activation.alpha, method)
