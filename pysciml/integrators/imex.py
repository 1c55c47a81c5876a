"""IMEX additive Runge–Kutta methods for ``y' = L y + N(t, y)``: ``L`` implicit (linear solves), ``N`` explicit.

A method is a pair of tableaux (explicit ``Ã, b̃, c̃`` for ``N``; diagonally implicit ``A, b, c`` for ``L``)
— an :class:`ImexTableau`, validated on construction — and :class:`ImexRK` runs any of them::

    (I - h a_ii L) U_i = u_n + h Σ_{j<i} (ã_ij N_j + a_ij L U_j),   N_i = N(t + c̃_i h, U_i),
    u_{n+1} = u_n + h Σ_i (b̃_i N_i + b_i L U_i).

The shifted solves use the linear part's representation (:mod:`.linear`): cached inverse for dense ``L``,
element-wise division for diagonal / Fourier ``L``.

* ``imex_ssp2`` — Pareschi & Russo, "Implicit-explicit Runge–Kutta schemes and applications to hyperbolic
  systems with relaxation", J. Sci. Comput. 25 (2005), Table II, SSP2(2,2,2) with ``γ = 1 - 1/√2``
  (methods.md §4); order 2 as a pair, implicit part L-stable. Fixed step only.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from .registry import register_tableaux
from .split import SplitStepper
from .stepper import StepResult

_TOL = 1e-12


@dataclasses.dataclass(frozen=True)
class ImexTableau:
    """An IMEX Runge–Kutta pair. Checks on construction: ``Ã`` strictly lower and ``A`` lower triangular,
    row sums equal the nodes, weights sum to 1, and for ``order >= 2`` the four coupling conditions
    ``b̃·c̃ = b̃·c = b·c̃ = b·c = 1/2`` (Pareschi & Russo 2005, §3)."""

    name: str
    order: int
    a_exp: np.ndarray
    b_exp: np.ndarray
    a_imp: np.ndarray
    b_imp: np.ndarray

    def __post_init__(self) -> None:
        for key in ("a_exp", "b_exp", "a_imp", "b_imp"):
            object.__setattr__(self, key, np.asarray(getattr(self, key), dtype=np.float64))
        s = self.b_exp.shape[0]
        if self.a_exp.shape != (s, s) or self.a_imp.shape != (s, s) or self.b_imp.shape != (s,):
            raise ValidationError(f"tableau {self.name!r}: inconsistent shapes")
        if np.any(np.triu(self.a_exp) != 0) or np.any(np.triu(self.a_imp, 1) != 0):
            raise ValidationError(f"tableau {self.name!r}: the explicit matrix must be strictly lower and the "
                                  "implicit one lower triangular (DIRK)")
        for b in (self.b_exp, self.b_imp):
            if abs(b.sum() - 1.0) > _TOL:
                raise ValidationError(f"tableau {self.name!r}: weights must sum to 1, got {b.sum()!r}")
        if self.order >= 2:
            c_e, c_i = self.c_exp, self.c_imp
            products = [self.b_exp @ c_e, self.b_exp @ c_i, self.b_imp @ c_e, self.b_imp @ c_i]
            if max(abs(p - 0.5) for p in products) > _TOL:
                raise ValidationError(f"tableau {self.name!r}: second-order coupling conditions fail: {products}")

    @property
    def stages(self) -> int:
        return int(self.b_exp.shape[0])

    @property
    def c_exp(self) -> np.ndarray:
        """Explicit nodes (row sums of ``Ã``)."""
        return self.a_exp.sum(axis=1)

    @property
    def c_imp(self) -> np.ndarray:
        """Implicit nodes (row sums of ``A``)."""
        return self.a_imp.sum(axis=1)

    def stability_function(self, z: complex | np.ndarray) -> np.ndarray:
        """``R(z)`` of the implicit tableau alone (``y' = λy``, ``z = hλ``): ``1 + z bᵀ(I - zA)^{-1} 1``."""
        z = np.atleast_1d(np.asarray(z, dtype=np.complex128))
        s = self.stages
        out = np.empty(z.shape, dtype=np.complex128)
        for idx, zi in np.ndenumerate(z):
            out[idx] = 1.0 + zi * self.b_imp @ np.linalg.solve(np.eye(s) - zi * self.a_imp, np.ones(s))
        return out


_GAMMA = 1.0 - 1.0 / math.sqrt(2.0)
TABLEAUX: dict[str, ImexTableau] = {tab.name: tab for tab in [
    ImexTableau("imex_ssp2", 2, a_exp=[[0.0, 0.0], [1.0, 0.0]], b_exp=[0.5, 0.5],
                a_imp=[[_GAMMA, 0.0], [1.0 - 2.0 * _GAMMA, _GAMMA]], b_imp=[0.5, 0.5]),
]}


class ImexRK(SplitStepper):
    """Runs any :class:`ImexTableau` on a :class:`~.split.SplitField` (batched, fixed step, differentiable)."""

    def init(self, field: Any, t0: torch.Tensor, y0: torch.Tensor) -> None:
        """As :meth:`SplitStepper.init`, and the linear part must offer solves with ``I - c L``."""
        super().init(field, t0, y0)
        if not field.linear.has_shifted_solve:
            raise ValidationError(f"method {self.name!r} solves (I - c L) x = r: give L as a dense matrix, a "
                                  "diagonal or a FourierMultiplier (a matrix-free LinearOperator has no solve)")
        return None

    def step(self, field: Any, t: torch.Tensor, y: torch.Tensor, dt: torch.Tensor,
             f0: torch.Tensor | None) -> StepResult:
        tab = self.tableau
        lin = field.linear
        t_y = t.to(y.dtype)
        h = dt.detach().to(y.dtype)
        h_col = h.unsqueeze(1)
        n_vals: list[torch.Tensor] = []
        l_vals: list[torch.Tensor] = []
        for i in range(tab.stages):
            rhs = y
            for j in range(i):
                if tab.a_exp[i, j] != 0.0:
                    rhs = rhs + (h_col * float(tab.a_exp[i, j])) * n_vals[j]
                if tab.a_imp[i, j] != 0.0:
                    rhs = rhs + (h_col * float(tab.a_imp[i, j])) * l_vals[j]
            diag = float(tab.a_imp[i, i])
            u_i = lin.shifted_solve(diag * h, rhs, self._cache) if diag != 0.0 else rhs
            n_vals.append(field.nonlinear(t_y + float(tab.c_exp[i]) * h, u_i))
            l_vals.append(lin.matvec(u_i))
        y1 = y
        for i in range(tab.stages):
            y1 = y1 + h_col * (float(tab.b_exp[i]) * n_vals[i] + float(tab.b_imp[i]) * l_vals[i])
        return StepResult(y=y1, error=None, f_end=None, interp=None, n_f_evals=tab.stages)


register_tableaux(TABLEAUX.values(), ImexRK, "imex")
