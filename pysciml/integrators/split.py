"""Semilinear vector fields ``y' = L y + N(t, y)`` for exponential (ETD) and IMEX integrators.

A :class:`SplitField` is a :class:`~.fields.VectorField` (calling it gives ``L y + N(t, y)``, so explicit and
Rosenbrock methods run on it unchanged) that also exposes the split: ``linear`` (a
:class:`~.linear.LinearPart`) and ``nonlinear(t, y)``. Exponential methods treat ``L`` exactly through
φ-functions; IMEX methods treat it implicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError
from .fields import VectorField
from .linear import Cache, LinearPart, as_linear_part
from .stepper import Stepper

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SplitField(VectorField):
    """``f(t, y) = L y + N(t, y)`` for flat states ``y [B, D]``.

    Args:
        linear: the linear part ``L``: a tensor ``[D, D]`` (dense), a tensor ``[D]`` (diagonal), a
            :class:`~.expmv.Diagonal`, a :class:`~.linear.FourierMultiplier` (circulant operator on a periodic
            grid, e.g. the Kuramoto–Sivashinsky ``-∂x² - ∂x⁴``), or a matrix-free :class:`~.expmv.LinearOperator`.
            Tensors may require grad (a learned ``L``, e.g. :meth:`HurwitzLinear.matrix`).
        nonlinear: ``N(t [B], y [B, D]) -> [B, D]`` (an ``nn.Module`` or any callable).
        phi: how dense ``L`` are exponentiated: ``"expm"`` (block matrix exponential, once per distinct step),
            ``"expmv"`` (matrix-free Al-Mohy–Higham action, every stage) or ``"auto"`` (``expm`` up to
            ``D = 256``).
        autonomous: declare that ``N`` does not depend on ``t`` (Rosenbrock methods then skip ``∂f/∂t``).
        nonlinear_in_basis: optional ``N̂(t, y) = linear.to_basis(N(t, y))`` computed more cheaply (e.g. the
            Fourier coefficients of ``-½∂x(u²)`` are ``-½ik·rfft(u²)``: one FFT instead of three); exponential
            methods use it. Must agree with ``nonlinear``.
    """

    def __init__(self, linear: Any, nonlinear: Func, *, phi: str = "auto", autonomous: bool = False,
                 nonlinear_in_basis: Func | None = None) -> None:
        if not callable(nonlinear):
            raise InputTypeError(f"nonlinear must be callable N(t, y), got {type(nonlinear).__name__}")
        self.linear: LinearPart = as_linear_part(linear, phi)
        self.nonlinear = nonlinear
        self._nonlinear_in_basis = nonlinear_in_basis
        super().__init__(self._full, autonomous=autonomous)

    def check_state(self, y: torch.Tensor) -> None:
        """Raise :class:`~pysciml.errors.ValidationError` unless ``y`` is a flat state ``[B, D]`` with ``D`` the
        size of ``L`` (a matrix-free ``L`` would otherwise act on a state of the wrong size unnoticed)."""
        if not isinstance(y, torch.Tensor) or y.dim() != 2 or y.shape[-1] != self.linear.dim:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValidationError(f"SplitField: the state y must be flat [batch, D] with D = {self.linear.dim} "
                                  f"(the size of L), got {got}; reshape y0 to [batch, {self.linear.dim}]")

    def nonlinear_in_basis(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``N(t, y)`` in the coordinates of the linear part (:meth:`LinearPart.to_basis`)."""
        self.check_state(y)
        if self._nonlinear_in_basis is not None:
            return self._nonlinear_in_basis(t, y)
        return self.linear.to_basis(self.nonlinear(t, y))

    def _full(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.check_state(y)
        return self.linear.matvec(y) + self.nonlinear(t, y)

    def reversed(self) -> SplitField:
        """The field in reversed time ``s = -t``: ``dy/ds = -L y - N(-s, y)`` (still split)."""
        nonlinear, in_basis = self.nonlinear, self._nonlinear_in_basis
        return SplitField(self.linear.negated(), lambda s, y: -nonlinear(-s, y), autonomous=self.autonomous,
                          nonlinear_in_basis=None if in_basis is None else (lambda s, y: -in_basis(-s, y)))


class SplitStepper(Stepper):
    """Base of the steppers for :class:`SplitField` (exponential, IMEX): one tableau, and a cache of the
    coefficients that depend only on the step size, fresh for every solve."""

    def __init__(self, tableau: Any) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self._cache: Cache = {}

    def init(self, field: Any, t0: torch.Tensor, y0: torch.Tensor) -> None:
        """Check that ``field`` is a :class:`SplitField` with a flat state; start a fresh cache."""
        if not isinstance(field, SplitField):
            raise ValidationError(f"method {self.name!r} integrates semilinear fields y' = L y + N(t, y): pass "
                                  "f=pysciml.integrators.SplitField(L, N) (or a model/system that provides one)")
        field.check_state(y0)
        self._cache = {}
        return None
