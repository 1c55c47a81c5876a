"""The contract between the single time-stepping engine and the methods it runs.

The engine (:mod:`pysciml.integrators.engine`) owns the time loop: per-sample step sizes, the step-size
controller, accept/reject, dense output at requested times, statistics and status codes. A *stepper*
knows one family of methods (explicit Runge–Kutta tableaux, Rosenbrock tableaux, exponential or IMEX
schemes) and only computes one step for the samples the engine hands it.

Shapes: ``B`` is the number of samples being stepped (the engine passes only active samples),
``*S`` the state shape. ``t`` and ``dt`` are ``[B]`` tensors in the *time dtype* (float64 by default);
``y`` is ``[B, *S]`` in the data dtype.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any

import torch


@dataclasses.dataclass
class StepResult:
    """What one step of a method returns.

    Attributes:
        y: proposed solution at ``t + dt``, ``[B, *S]``.
        error: embedded local error estimate ``[B, *S]`` (``None`` for methods without one, which
            can then run only with a fixed step).
        f_end: ``f(t + dt, y)`` when the method computed it anyway (FSAL), else ``None``.
        interp: method-specific data for :meth:`Stepper.interpolate` (``None``: cubic Hermite).
        n_f_evals: evaluations of the vector field this step cost for each sample (Jacobian
            evaluations are counted separately by the field).
    """

    y: torch.Tensor
    error: torch.Tensor | None
    f_end: torch.Tensor | None
    interp: Any
    n_f_evals: int


class Stepper(ABC):
    """One family of one-step methods, configured for one method (e.g. a tableau)."""

    #: Method name as accepted by ``pysciml.odeint(method=...)``.
    name: str
    #: Classical order of the propagated solution.
    order: int
    #: Order of the embedded solution used for error control (``None``: fixed step only).
    error_order: int | None = None
    #: True when ``StepResult.f_end`` is returned and can seed the next step.
    fsal: bool = False

    @property
    def adaptive(self) -> bool:
        """True when the method has an embedded error estimate."""
        return self.error_order is not None

    def init(self, field: Any, t0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor | None:
        """Called once before the first step; returns ``f(t0, y0)`` if the method wants it (FSAL / Hermite)."""
        return None

    @abstractmethod
    def step(self, field: Any, t: torch.Tensor, y: torch.Tensor, dt: torch.Tensor,
             f0: torch.Tensor | None) -> StepResult:
        """Advance ``y`` at ``t`` by ``dt`` (all ``[B]``-batched); ``f0`` is ``f(t, y)`` if known."""

    def interpolate(self, theta: torch.Tensor, dt: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor,
                    f0: torch.Tensor | None, f1: torch.Tensor | None, interp: Any) -> torch.Tensor:
        """Dense output at ``t + theta*dt`` (``theta [B]`` in [0, 1]) inside an accepted step.

        The default is cubic Hermite from the end values and derivatives, or linear when the
        derivatives are unknown. Methods with their own interpolant override this.
        """
        shape = (-1,) + (1,) * (y0.dim() - 1)
        th = theta.to(y0.dtype).reshape(shape)
        if f0 is None or f1 is None:
            return y0 + th * (y1 - y0)
        h = dt.to(y0.dtype).reshape(shape)
        h00 = (1 + 2 * th) * (1 - th) ** 2
        h10 = th * (1 - th) ** 2
        h01 = th**2 * (3 - 2 * th)
        h11 = th**2 * (th - 1)
        return h00 * y0 + h10 * h * f0 + h01 * y1 + h11 * h * f1
