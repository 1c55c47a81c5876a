"""Lipschitz-controlled MLP (seed 003 §3; methods.md §1.3).

Each weight is normalised as ``Ŵ = W c / max(c, sqrt(‖W‖₁ ‖W‖_∞))`` with ``c = L^{1/n}`` for ``n`` linear
maps. Since ``‖W‖₂ ≤ sqrt(‖W‖₁ ‖W‖_∞)`` (Schur test) and the activation is 1-Lipschitz,
``Lip(net) ≤ ∏ sqrt(‖Ŵ‖₁ ‖Ŵ‖_∞) ≤ L``. ``lipschitz=None`` disables the normalisation (ablation).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_positive_int, real_number
from ._activations import make_activation
from ._checks import check_features
from ._config import configurable


def schur_bound(w: torch.Tensor) -> torch.Tensor:
    """``sqrt(‖W‖₁ ‖W‖_∞) ≥ ‖W‖₂`` (max column sum times max row sum), differentiable a.e."""
    return torch.sqrt(w.abs().sum(dim=0).max() * w.abs().sum(dim=1).max())


@configurable
class LipschitzMLP(nn.Module):
    """MLP ``R^in → R^out`` with certified Lipschitz constant ``≤ lipschitz`` in the 2-norm.

    Args:
        in_features, out_features: input/output sizes.
        hidden: hidden width.
        layers: number of hidden layers (``layers + 1`` linear maps).
        lipschitz: target ``L > 0``, or ``None`` for an unconstrained network.
        activation: a 1-Lipschitz activation (``tanh``, ``relu``, ``softplus``, ``elu``, ``sigmoid``).
        bias: use biases (``bias=False`` with ``tanh`` gives ``N(0) = 0``, a fixed point at the origin).
    """

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, layers: int = 2,
                 lipschitz: float | None = 1.0, activation: str = "tanh", bias: bool = True) -> None:
        super().__init__()
        sizes = [check_positive_int(in_features, "in_features")]
        sizes += [check_positive_int(hidden, "hidden")] * check_positive_int(layers, "layers")
        sizes.append(check_positive_int(out_features, "out_features"))
        if lipschitz is not None and not real_number(lipschitz, "lipschitz") > 0:
            raise ValidationError(f"lipschitz must be a positive float or None, got {lipschitz!r}")
        self.lipschitz = None if lipschitz is None else float(lipschitz)
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in pairs)
        self.act = make_activation(activation, one_lipschitz=True)

    def weights(self) -> list[torch.Tensor]:
        """The normalised weights ``Ŵ_l`` actually used in the forward pass."""
        if self.lipschitz is None:
            return [lin.weight for lin in self.linears]
        c = self.lipschitz ** (1.0 / len(self.linears))
        return [lin.weight * (c / torch.clamp(schur_bound(lin.weight), min=c)) for lin in self.linears]

    def lipschitz_bound(self) -> float:
        """Certificate ``∏_l sqrt(‖Ŵ_l‖₁ ‖Ŵ_l‖_∞)`` (≤ ``lipschitz`` when constrained)."""
        with torch.no_grad():
            return math.prod(float(schur_bound(w)) for w in self.weights())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., in] → [..., out]``."""
        check_features(x, "x", self.linears[0].in_features, self)
        ws = self.weights()
        for i, (lin, w) in enumerate(zip(self.linears, ws, strict=True)):
            x = nn.functional.linear(x, w, lin.bias)
            if i < len(ws) - 1:
                x = self.act(x)
        return x
