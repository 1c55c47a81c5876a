"""Neural-ODE classifier: integrate ``x' = f(t, x)`` from 0 to ``t1``, then a linear head (seeds 000, 002)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_positive_int, real_number
from ._checks import check_features
from ._config import configurable


@configurable
class NeuralODEClassifier(nn.Module):
    """``logits = W x(t1) + c`` with ``x(0) = input`` and ``x' = vector_field(t, x)``.

    Args:
        vector_field: module ``f(t [B], x [B, dim]) -> [B, dim]`` (e.g. :class:`MLPVectorField`,
            :class:`StableNODE`); its ``dim`` attribute gives the state size unless ``dim`` is passed.
        num_classes: number of output logits.
        t1: end time (> 0).
        method: a :func:`pysciml.odeint` method name; ``solver_options`` (``rtol``, ``atol``, ``step_size``,
            ``adjoint`` …) are forwarded.
        dim: state size when the field has no ``dim`` attribute.

    After each forward pass ``last_nfe`` holds the number of field evaluations (max over the batch) and
    ``last_stats`` / ``last_status`` the solver's per-sample statistics and status codes.
    """

    def __init__(self, vector_field: nn.Module, num_classes: int, t1: float = 1.0, method: str = "dopri5",
                 dim: int | None = None, **solver_options: Any) -> None:
        super().__init__()
        state_dim = dim if dim is not None else getattr(vector_field, "dim", None)
        if state_dim is None:
            raise ValidationError("cannot infer the state size: vector_field has no `dim` attribute; "
                                  "pass dim=")
        self.dim = check_positive_int(state_dim, "dim")
        if not real_number(t1, "t1") > 0:
            raise ValidationError(f"t1 must be > 0, got {t1!r}")
        self.vector_field = vector_field
        self.head = nn.Linear(self.dim, check_positive_int(num_classes, "num_classes"))
        self.t1, self.method, self.solver_options = float(t1), method, solver_options
        self.last_nfe: int | None = None
        self.last_stats: dict[str, torch.Tensor] | None = None
        self.last_status: torch.Tensor | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x(t1) [B, dim]`` for inputs ``x [B, dim]``; records the solver statistics."""
        from ..integrators import odeint

        check_features(x, "x", self.dim, self, min_ndim=2)
        if x.ndim != 2:
            raise ValidationError(f"x must have shape [batch, {self.dim}], got {tuple(x.shape)}")
        t = torch.tensor([0.0, self.t1], dtype=x.dtype, device=x.device)
        sol = odeint(self.vector_field, x, t, method=self.method, **self.solver_options)
        self.last_stats, self.last_status = sol.stats, sol.status
        self.last_nfe = int(sol.stats["n_f_evals"].max())
        return sol.ys[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, dim] → logits [B, num_classes]``."""
        return self.head(self.features(x))
