"""Structure-preserving neural ODE (seed 003, Alvarez Loya et al.; methods.md §1).

``y → z = encoder(y)``, latent dynamics ``z' = A z + N(z)`` with a Hurwitz ``A`` (:class:`HurwitzLinear`)
and a Lipschitz-controlled or bilinear ``N``, integrated by an exponential (``etd1``, ``etdrk4``) or IMEX
(``imex_ssp2``) method of :func:`pysciml.odeint` through a ``SplitField(A, N)``; explicit/implicit methods
can be used for comparison (they see the same field ``A z + N(z)``). Predictions are decoded back, so the
loss is taken in the original coordinates. Encoder and decoder default to the identity.

The φ-functions of ``A`` in an exponential step are computed either by one block ``matrix_exp`` per distinct
step size (``phi="expm"``, the default up to a latent size of 256) or matrix-free by the Al-Mohy & Higham
(2011) truncated-Taylor action ``e^{hA}v + hφ_1(hA)w`` of one augmented matrix (``phi="expmv"``,
:func:`pysciml.integrators.expmv.phimv`), which is what Alvarez Loya et al. (arXiv:2503.01775, §4, eq. (17))
use for high-dimensional states; both give the same step to rounding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ._config import configurable
from .hurwitz import HurwitzLinear

#: Values of ``phi`` (how the φ-functions of the linear part are applied).
PHI_MODES = ("auto", "expm", "expmv")


@configurable
class StructurePreservingNODE(nn.Module):
    """``y(t) = decoder(z(t))``, ``z' = A z + N(z)``, ``z(0) = encoder(y0)``.

    Args:
        encoder: module ``[B, dim] → [B, latent]`` or ``None`` (identity).
        linear: :class:`HurwitzLinear` of size ``latent`` (or a module with ``matrix() -> [latent, latent]``).
        nonlinear: module ``N(z [B, latent]) -> [B, latent]``.
        decoder: module ``[B, latent] → [B, dim]`` or ``None`` (identity).
        method: :func:`pysciml.odeint` method (default ``"etd1"``, the exponential Euler of the seed).
        phi: how exponential methods apply ``φ_k(hA)``: ``"expm"`` (block matrix exponential), ``"expmv"``
            (matrix-free Al-Mohy–Higham action) or ``"auto"`` (``expm`` up to latent size 256).
        solver_options: forwarded to ``odeint`` (e.g. ``step_size=``, ``rtol=``).
    """

    def __init__(self, encoder: nn.Module | None, linear: HurwitzLinear, nonlinear: nn.Module,
                 decoder: nn.Module | None = None, method: str = "etd1", phi: str = "auto",
                 **solver_options: Any) -> None:
        super().__init__()
        if phi not in PHI_MODES:
            raise ValidationError(f"phi must be one of {PHI_MODES}, got {phi!r}")
        if not callable(getattr(linear, "matrix", None)):
            raise ValidationError("linear must provide matrix() -> [latent, latent] (e.g. HurwitzLinear)")
        self.encoder = encoder if encoder is not None else nn.Identity()
        self.decoder = decoder if decoder is not None else nn.Identity()
        self.linear, self.nonlinear = linear, nonlinear
        self.method, self.phi, self.solver_options = method, phi, solver_options
        self.last_solution: Any = None

    @property
    def last_nfe(self) -> float | None:
        """Mean per-sample vector-field evaluations of the last forward pass (``None`` before the first); the
        rollout trainer reports it as ``nfe``."""
        if self.last_solution is None:
            return None
        return float(self.last_solution.stats["n_f_evals"].to(torch.float64).mean())

    def latent_field(self) -> Any:
        """``SplitField(A, N)`` for the current parameters (calling it gives ``A z + N(z)``)."""
        from ..integrators.split import SplitField

        return SplitField(self.linear.matrix(), lambda t, z: self.nonlinear(z), phi=self.phi)

    def forward(self, y0: torch.Tensor, t: torch.Tensor, method: str | None = None,
                **solver_options: Any) -> torch.Tensor:
        """Predict ``[B, T, dim]`` from ``y0 [B, dim]`` at times ``t [T]`` (or ``[B, T]``).

        ``method`` / ``solver_options`` override the constructor's (e.g. deploy with another step size).
        The solver result (``stats``, ``status``) is kept in ``last_solution``.
        """
        from ..integrators import odeint

        if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
            raise InputTypeError(f"y0 must be a real floating-point tensor [batch, dim], got "
                                 f"{getattr(y0, 'dtype', type(y0).__name__)}")
        if y0.ndim != 2:
            raise ValidationError(f"y0 must have shape [batch, dim], got {tuple(y0.shape)}")
        z0 = self.encoder(y0)
        opts = {**self.solver_options, **solver_options}
        sol = odeint(self.latent_field(), z0, t, method=method or self.method, **opts)
        self.last_solution = sol
        return self.decoder(sol.ys)
