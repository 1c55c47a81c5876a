"""MLP autoencoder for latent structure-preserving NODEs (seed 003 §4, §5.3)."""

from __future__ import annotations

import torch
from torch import nn

from ..validation import check_positive_int
from ._activations import make_activation
from ._checks import check_features
from ._config import configurable


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(make_activation(activation))
    return nn.Sequential(*mods)


@configurable
class Autoencoder(nn.Module):
    """``encoder: R^dim → R^latent`` and ``decoder: R^latent → R^dim``, MLPs with ``layers`` hidden layers.

    ``forward(y)`` returns the reconstruction ``decoder(encoder(y))`` (``[..., dim]``).
    """

    def __init__(self, dim: int, latent: int, hidden: int = 128, layers: int = 2,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.latent = check_positive_int(latent, "latent")
        hidden = check_positive_int(hidden, "hidden")
        mid = [hidden] * check_positive_int(layers, "layers")
        self.encoder = _mlp([self.dim, *mid, self.latent], activation)
        self.decoder = _mlp([self.latent, *mid, self.dim], activation)

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """``y [..., dim] → z [..., latent]``."""
        return self.encoder(check_features(y, "y", self.dim, self))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z [..., latent] → y [..., dim]``."""
        return self.decoder(check_features(z, "z", self.latent, self))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[..., dim]``."""
        return self.decode(self.encode(y))
