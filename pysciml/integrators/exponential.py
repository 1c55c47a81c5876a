"""Exponential Runge–Kutta (ETD) methods for ``y' = L y + N(t, y)``: tableaux as data, one stepper.

Every stage of the classical ETD schemes is a *φ-action* from some earlier value ``v`` over a sub-step ``τ``
(Al-Mohy & Higham 2011, Theorem 2.1; Hochbruck & Ostermann, "Exponential integrators", Acta Numerica 19
(2010), §2.3)::

    U_i = e^{τ_i L} V_{base(i)} + Σ_{k=1}^{p} τ_i^k φ_k(τ_i L) w_k,   w_k = τ_i^{1-k} Σ_j β^{(i)}_{kj} N_j,

with ``τ_i = θ_i h``, ``N_0 = N(t, u_n)``, ``N_j = N(t + c_j h, U_j)``, ``V_0 = u_n``; the new value is the
same expression with ``base = 0`` and ``θ = 1``. So a method is the data ``(base, θ, β)`` per stage — an
:class:`ExpRKTableau` — and :class:`ExponentialRK` runs any of them; the linear part decides how φ-actions
are computed (:mod:`.linear`: contour coefficients for diagonal/Fourier ``L``, block ``matrix_exp`` or
matrix-free ``expmv`` for dense/operator ``L``).

Methods (formulas in methods.md §3):

* ``etd1`` — exponential Euler, ``u_{n+1} = e^{hL}u_n + hφ_1(hL)N_n`` (Cox & Matthews 2002, eq. (4)); order 1.
* ``etd2rk`` — Cox & Matthews 2002, eq. (22): ``a = e^{hL}u + hφ_1 N_u``,
  ``u_{n+1} = a + hφ_2(hL)(N(a) - N_u)``; order 2.
* ``etdrk4`` — Cox & Matthews 2002, eqs. (26)–(29), in the φ-form of Kassam & Trefethen 2005;
  ``u_{n+1} = e^{hL}u + h[φ_1 N_u + φ_2(-3N_u + 2N_a + 2N_b - N_c) + φ_3(4N_u - 4N_a - 4N_b + 4N_c)]``;
  order 4 (non-stiff order; Hochbruck & Ostermann show a possible reduction to 3 for very stiff problems).

Fixed step only (``step_size=``): none of these has an embedded error estimate.
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
class ExpStage:
    """One φ-action: ``base`` (0: the step's start value, ``i``: stage ``i``), sub-step ``theta`` (fraction of
    ``h``) and weights ``beta [p, J]`` of ``τφ_k(τL)`` on the nonlinear evaluations ``N_0..N_{J-1}``."""

    base: int
    theta: float
    beta: np.ndarray

    def __post_init__(self) -> None:
        beta = np.atleast_2d(np.asarray(self.beta, dtype=np.float64))
        nonzero = np.flatnonzero(np.any(beta != 0.0, axis=1))
        object.__setattr__(self, "beta", beta[: (nonzero[-1] + 1 if nonzero.size else 1)])


@dataclasses.dataclass(frozen=True)
class ExpRKTableau:
    """An explicit exponential Runge–Kutta method as data; validated on construction.

    Checks: every base precedes its stage and ``θ > 0``; every φ-action is exact for constant ``N``
    (row sums ``Σ_j β_1j = 1``, ``Σ_j β_kj = 0`` for ``k ≥ 2``); the final weights satisfy the quadrature
    order conditions ``Σ_j β_kj c_j^{m-1}/(m-1)! = δ_km`` for ``m = 1..min(order, p)`` (Hochbruck & Ostermann
    2010, Table 2.1, conditions 1, 2 and 4) with the nodes ``c`` implied by the stages.
    """

    name: str
    order: int
    stages: tuple[ExpStage, ...]
    final: ExpStage

    def __post_init__(self) -> None:
        for i, st in enumerate(self.stages, start=1):
            self._check(st, i, f"stage {i}")
        self._check(self.final, len(self.stages) + 1, "final stage")
        if self.final.base != 0 or self.final.theta != 1.0:
            raise ValidationError(f"tableau {self.name!r}: the final stage must start from u_n (base 0) with theta 1")
        c = self.nodes
        beta = np.zeros((self.final.beta.shape[0], c.size))
        beta[:, : self.final.beta.shape[1]] = self.final.beta
        for m in range(1, min(self.order, beta.shape[0]) + 1):
            got = beta @ (c ** (m - 1)) / math.factorial(m - 1)
            want = np.eye(beta.shape[0])[m - 1]
            if np.max(np.abs(got - want)) > _TOL:
                raise ValidationError(f"tableau {self.name!r}: order condition m={m} fails "
                                      f"(Σ_j β_kj c_j^{m - 1}/{m - 1}! = {got}, want {want})")

    def _check(self, st: ExpStage, index: int, what: str) -> None:
        if not 0 <= st.base < index or st.theta <= 0:
            raise ValidationError(f"tableau {self.name!r}: {what} needs 0 <= base < {index} and theta > 0")
        if st.beta.shape[1] > index:
            raise ValidationError(f"tableau {self.name!r}: {what} uses N_j of a later stage")
        sums = st.beta.sum(axis=1)
        want = np.eye(st.beta.shape[0])[0]
        if np.max(np.abs(sums - want)) > _TOL:
            raise ValidationError(f"tableau {self.name!r}: {what} is not exact for constant N "
                                  f"(row sums {sums}, want {want})")

    @property
    def nodes(self) -> np.ndarray:
        """Times ``c_j`` (fractions of ``h``) of the nonlinear evaluations ``N_0..N_s``."""
        nodes = [0.0]
        for st in self.stages:
            nodes.append(nodes[st.base] + st.theta)
        return np.asarray(nodes)


TABLEAUX: dict[str, ExpRKTableau] = {tab.name: tab for tab in [
    ExpRKTableau("etd1", 1, (), ExpStage(0, 1.0, [[1.0]])),
    ExpRKTableau("etd2rk", 2, (ExpStage(0, 1.0, [[1.0]]),), ExpStage(0, 1.0, [[1.0, 0.0], [-1.0, 1.0]])),
    ExpRKTableau("etdrk4", 4, (
        ExpStage(0, 0.5, [[1.0]]),                  # a = e^{hL/2}u + (h/2)φ_1(hL/2) N_u
        ExpStage(0, 0.5, [[0.0, 1.0]]),             # b = e^{hL/2}u + (h/2)φ_1(hL/2) N_a
        ExpStage(1, 0.5, [[-1.0, 0.0, 2.0]]),       # c = e^{hL/2}a + (h/2)φ_1(hL/2)(2N_b - N_u)
    ), ExpStage(0, 1.0, [[1.0, 0.0, 0.0, 0.0], [-3.0, 2.0, 2.0, -1.0], [4.0, -4.0, -4.0, 4.0]])),
]}


class ExponentialRK(SplitStepper):
    """Runs any :class:`ExpRKTableau` on a :class:`~.split.SplitField` (batched, fixed step, differentiable)."""

    def _action(self, field: Any, st: ExpStage, h: torch.Tensor, values: list[torch.Tensor],
                evals: list[torch.Tensor]) -> torch.Tensor:
        """One φ-action, in the coordinates of the linear part (values and evaluations are too)."""
        return field.linear.exp_stage(st.theta * h, values[st.base], evals, st.beta, self._cache)

    def step(self, field: Any, t: torch.Tensor, y: torch.Tensor, dt: torch.Tensor,
             f0: torch.Tensor | None) -> StepResult:
        """One step; stage values and ``N`` live in the linear part's coordinates (Fourier modes for a
        :class:`~.linear.FourierMultiplier`), so a spectral step costs one transform per stage."""
        tab = self.tableau
        lin = field.linear
        t_y = t.to(y.dtype)
        h = dt.detach().to(y.dtype)
        values = [lin.to_basis(y)]
        evals = [field.nonlinear_in_basis(t_y, y)]
        for st, c in zip(tab.stages, tab.nodes[1:], strict=True):
            values.append(self._action(field, st, h, values, evals))
            evals.append(field.nonlinear_in_basis(t_y + float(c) * h, lin.from_basis(values[-1])))
        y1 = lin.from_basis(self._action(field, tab.final, h, values, evals))
        return StepResult(y=y1, error=None, f_end=None, interp=None, n_f_evals=len(evals))


register_tableaux(TABLEAUX.values(), ExponentialRK, "exponential")
