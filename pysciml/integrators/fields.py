"""Vector-field wrappers handed by the engine to steppers.

``VectorField`` wraps a user callable ``f(t, y)`` (``t [B]`` in the data dtype, ``y [B, *S]``) and
provides the Jacobian that implicit/Rosenbrock methods need: the analytic one when given, otherwise
batched autograd. Semilinear fields ``y' = L y + N(t, y)`` (exponential and IMEX methods) are
:class:`~pysciml.integrators.split.SplitField` instances, a subclass defined with those methods.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class VectorField:
    """A vector field ``f(t, y)`` with an optional analytic Jacobian ``jac(t, y) -> [B, D, D]``."""

    def __init__(self, f: Func, jacobian: Func | None = None) -> None:
        self.f = f
        self._jacobian = jacobian

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.f(t, y)

    @property
    def has_analytic_jacobian(self) -> bool:
        """True when an analytic Jacobian was supplied."""
        return self._jacobian is not None

    def jacobian(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``∂f/∂y`` per sample, ``[B, D, D]`` for a flat state ``y [B, D]``.

        Uses the analytic Jacobian if one was given; otherwise ``D`` VJPs through autograd (with
        ``create_graph`` so that it stays differentiable for training through stiff solvers).
        """
        if self._jacobian is not None:
            return self._jacobian(t, y)
        if y.dim() != 2:
            raise ValueError("autograd Jacobians need a flat state y [batch, dim]")
        with torch.enable_grad():
            y_in = y if y.requires_grad else y.detach().requires_grad_(True)
            out = self.f(t, y_in)
            rows = []
            for i in range(out.shape[1]):
                (g,) = torch.autograd.grad(out[:, i].sum(), y_in, create_graph=torch.is_grad_enabled()
                                           and y.requires_grad, retain_graph=True)
                rows.append(g)
        return torch.stack(rows, dim=1)
