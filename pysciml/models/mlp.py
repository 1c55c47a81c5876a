"""Plain MLP vector field ``f(t, y)`` for neural ODEs (baseline of seeds 000/002)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_positive_int
from ._activations import make_activation
from ._checks import check_features
from ._config import configurable


@configurable
class MLPVectorField(nn.Module):
    """``f(t, y) = MLP([y, t])`` (or ``MLP(y)`` when autonomous), ``y [B, dim] → [B, dim]``.

    Args:
        dim: state dimension.
        hidden: width of the hidden layers.
        layers: number of hidden layers (≥ 1).
        activation: ``tanh``, ``relu``, ``softplus``, ``elu``, ``sigmoid``, ``gelu`` or ``silu``.
        time_dependent: append ``t`` as an input feature.
    """

    def __init__(self, dim: int, hidden: int = 64, layers: int = 2, activation: str = "tanh",
                 time_dependent: bool = False) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        hidden = check_positive_int(hidden, "hidden")
        layers = check_positive_int(layers, "layers")
        self.time_dependent = bool(time_dependent)
        sizes = [self.dim + int(self.time_dependent)] + [hidden] * layers
        mods: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            mods += [nn.Linear(n_in, n_out), make_activation(activation)]
        mods.append(nn.Linear(sizes[-1], self.dim))
        self.net = nn.Sequential(*mods)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``t [B]`` (or scalar), ``y [B, dim]`` → ``[B, dim]``."""
        check_features(y, "y", self.dim, self)
        if self.time_dependent:
            if isinstance(t, torch.Tensor) and t.numel() not in (1, int(np.prod(y.shape[:-1]))):
                raise ValidationError(f"t must be a scalar or hold one time per state ({tuple(y.shape[:-1])}), "
                                      f"got shape {tuple(t.shape)}")
            tt = torch.as_tensor(t, dtype=y.dtype, device=y.device).expand(y.shape[:-1]).unsqueeze(-1)
            y = torch.cat([y, tt], dim=-1)
        return self.net(y)
