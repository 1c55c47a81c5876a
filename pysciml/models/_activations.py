"""Activation lookup shared by the models (name → module)."""

from __future__ import annotations

from torch import nn

from ..validation import check_choice

#: Activations with Lipschitz constant ≤ 1 (usable in certified networks).
ONE_LIPSCHITZ = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus, "elu": nn.ELU,
                 "sigmoid": nn.Sigmoid}
ALL = {**ONE_LIPSCHITZ, "gelu": nn.GELU, "silu": nn.SiLU}


def make_activation(name: str, *, one_lipschitz: bool = False) -> nn.Module:
    """Instantiate an activation by name; ``one_lipschitz`` restricts to 1-Lipschitz ones."""
    table = ONE_LIPSCHITZ if one_lipschitz else ALL
    return table[check_choice(name, "activation", tuple(table))]()
