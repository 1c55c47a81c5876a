"""Vector-field wrappers handed by the engine to steppers.

``VectorField`` wraps a user callable ``f(t, y)`` (``t [B]`` in the data dtype, ``y [B, *S]``) and
provides the derivatives that implicit/Rosenbrock methods need: ``∂f/∂y`` (the analytic Jacobian when
given, otherwise batched autograd) and ``∂f/∂t`` (analytic, zero for autonomous fields, otherwise autograd).
Semilinear fields ``y' = L y + N(t, y)`` (exponential and IMEX methods) are
:class:`~pysciml.integrators.split.SplitField` instances, a subclass defined with those methods.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import InputTypeError, ValidationError

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def checked_output(out: object, y: torch.Tensor, name: str = "f(t, y)") -> torch.Tensor:
    """The value of a vector field, checked against the state ``y``: it must be a tensor of ``y``'s shape; a
    floating-point dtype other than ``y``'s (e.g. float64 constants in a float32 solve) is cast to ``y``'s dtype;
    anything else raises :class:`~pysciml.errors.InputTypeError`/:class:`~pysciml.errors.ValidationError`."""
    if not isinstance(out, torch.Tensor):
        raise InputTypeError(f"{name} must return a torch.Tensor, got {type(out).__name__}")
    if out.shape != y.shape:
        raise ValidationError(f"{name} returned shape {tuple(out.shape)} for a state of shape {tuple(y.shape)}; "
                              "it must return dy/dt with the state's shape")
    if out.dtype != y.dtype:
        if not out.is_floating_point():
            raise InputTypeError(f"{name} returned dtype {out.dtype} for a {y.dtype} state; return a floating "
                                 "tensor (ideally of the state's dtype)")
        out = out.to(y.dtype)
    return out


class VectorField:
    """A vector field ``f(t, y)`` with optional analytic derivatives.

    Args:
        f: ``f(t [B], y [B, D]) -> [B, D]``.
        jacobian: optional ``jac(t, y) -> [B, D, D]`` with ``jac[b, i, j] = ∂f_i/∂y_j``.
        time_derivative: optional ``ft(t, y) -> [B, D]`` (``∂f/∂t``), used by Rosenbrock methods.
        autonomous: declare that ``f`` does not depend on ``t`` (then ``∂f/∂t = 0`` at no cost).
    """

    def __init__(self, f: Func, jacobian: Func | None = None, *, time_derivative: Func | None = None,
                 autonomous: bool = False) -> None:
        self.f = f
        self._jacobian = jacobian
        self._time_derivative = time_derivative
        self.autonomous = bool(autonomous)
        self._has_trainable: bool | None = None  # does f close over tensors that require grad? (probed once)

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``f(t, y)``, checked: a tensor of ``y``'s shape; a floating dtype other than ``y``'s is cast to it."""
        return checked_output(self.f(t, y), y)

    @property
    def has_analytic_jacobian(self) -> bool:
        """True when an analytic Jacobian was supplied."""
        return self._jacobian is not None

    def jacobian(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``∂f/∂y`` per sample, ``[B, D, D]`` for a flat state ``y [B, D]``.

        Uses the analytic Jacobian if one was given; otherwise one forward pass and one vectorised
        (``is_grads_batched``) backward pass. When grad mode is on and ``y``, ``t`` or tensors captured by
        ``f`` (network weights) require grad, the Jacobian is built with ``create_graph`` so that it stays
        differentiable (training through stiff solvers); otherwise no graph is kept.
        """
        if self._jacobian is not None:
            return self._jacobian(t, y)
        jac, _ = self._autograd_partials(t, y, want_t=False)
        return jac

    def time_derivative(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``∂f/∂t`` per sample, ``[B, D]``: analytic if given, zero if autonomous, else autograd."""
        if self._time_derivative is not None:
            return self._time_derivative(t, y)
        if self.autonomous:
            return torch.zeros_like(y)
        _, f_t = self._autograd_partials(t, y, want_y=False)
        return f_t

    def linearization(self, t: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(∂f/∂y [B, D, D], ∂f/∂t [B, D])`` at ``(t, y)``; ``∂f/∂t`` is ``None`` for autonomous fields.

        When both derivatives come from autograd they share one forward and one backward pass.
        """
        if self.autonomous:
            return self.jacobian(t, y), None
        if self._jacobian is None and self._time_derivative is None:
            return self._autograd_partials(t, y)
        return self.jacobian(t, y), self.time_derivative(t, y)

    def reversed(self) -> VectorField:
        """The field in reversed time ``s = -t``: ``dy/ds = -f(-s, y)``, with its derivatives carried over."""
        f, jac, f_t = self.f, self._jacobian, self._time_derivative
        return VectorField(lambda s, y: -f(-s, y),
                           None if jac is None else (lambda s, y: -jac(-s, y)),
                           time_derivative=None if f_t is None else (lambda s, y: f_t(-s, y)),
                           autonomous=self.autonomous)

    def _closes_over_trainable(self, t: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether ``f`` depends on tensors that require grad (e.g. network weights); probed once."""
        if self._has_trainable is None:
            with torch.enable_grad():
                self._has_trainable = bool(self.f(t.detach(), y.detach()).requires_grad)
        return self._has_trainable

    def _autograd_partials(self, t: torch.Tensor, y: torch.Tensor, want_y: bool = True,
                           want_t: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(∂f/∂y, ∂f/∂t)`` by reverse-mode autograd (rows batched with ``is_grads_batched``)."""
        if y.dim() != 2:
            raise ValidationError("autograd Jacobians need a flat state y [batch, dim], got "
                                  f"{tuple(y.shape)}; reshape the state")
        batch, dim = y.shape
        differentiable = torch.is_grad_enabled() and (y.requires_grad or t.requires_grad
                                                      or self._closes_over_trainable(t, y))
        with torch.enable_grad():
            y_in = y if (differentiable and y.requires_grad) else y.detach().requires_grad_(want_y)
            t_in = t if (differentiable and t.requires_grad) else t.detach().requires_grad_(want_t)
            out = checked_output(self.f(t_in, y_in), y_in)
            inputs = [x for x, want in ((y_in, want_y), (t_in, want_t)) if want and x.requires_grad]
            grads: tuple[torch.Tensor | None, ...] = (None,) * len(inputs)
            if out.requires_grad and inputs:
                eye = torch.eye(dim, dtype=out.dtype, device=out.device)
                eye = eye.unsqueeze(1).expand(dim, batch, dim)
                grads = torch.autograd.grad(out, inputs, grad_outputs=eye, is_grads_batched=True,
                                            create_graph=differentiable, allow_unused=True)
        by_input = dict(zip((id(x) for x in inputs), grads, strict=True))
        g_y = by_input.get(id(y_in))
        g_t = by_input.get(id(t_in))
        jac = g_y.permute(1, 0, 2) if g_y is not None else y.new_zeros(batch, dim, dim)
        f_t = g_t.transpose(0, 1) if g_t is not None else torch.zeros_like(y)
        return jac, f_t
