"""Explicit Runge–Kutta methods: the tableaux (data) and the one stepper that runs them all.

Tableaux (coefficients are published facts):

* ``euler`` (order 1), ``midpoint``, ``heun``, ``ralston`` (order 2), ``rk4`` (classical, order 4):
  Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1; fixed step only.
* ``bosh3``: Bogacki & Shampine, "A 3(2) pair of Runge–Kutta formulas", Appl. Math. Lett. 2 (1989), FSAL.
* ``dopri5``: Dormand & Prince, "A family of embedded Runge–Kutta formulae", J. Comput. Appl. Math. 6
  (1980), order 5(4), FSAL, with Shampine's (1986) midpoint dense output (quartic interpolant).
* ``tsit5``: Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column simplifying
  assumption", Comput. Math. Appl. 62 (2011), order 5(4), FSAL; cubic Hermite dense output.

Stage ``i`` is ``k_i = f(t + c_i h, y + h Σ_j a_ij k_j)``; ``y1 = y + h Σ b_i k_i`` and the error
estimate is ``h Σ e_i k_i`` — both are contractions over the stacked stages (one ``matmul`` each).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .combination import combine, nonzero
from .registry import register_tableaux
from .stepper import Stepper, StepResult
from .tableau import ButcherTableau


def _lower(rows: list[list[float]]) -> np.ndarray:
    """Strictly lower-triangular ``[s, s]`` matrix from its ragged rows (row ``i`` has ``i`` entries)."""
    s = len(rows)
    a = np.zeros((s, s))
    for i, row in enumerate(rows):
        a[i, : len(row)] = row
    return a


_DOPRI5_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_DOPRI5_BHAT = [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
_TSIT5_B = [0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
            2.324710524099774, 0.0]
_TSIT5_E = [-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995, -0.1447110071732629,
            0.5823571654525552, -0.45808210592918697, 1 / 66]

TABLEAUX: dict[str, ButcherTableau] = {tab.name: tab for tab in [
    ButcherTableau("euler", 1, _lower([[]]), [1.0], [0.0]),
    ButcherTableau("midpoint", 2, _lower([[], [0.5]]), [0.0, 1.0], [0.0, 0.5]),
    ButcherTableau("heun", 2, _lower([[], [1.0]]), [0.5, 0.5], [0.0, 1.0]),
    ButcherTableau("ralston", 2, _lower([[], [2 / 3]]), [0.25, 0.75], [0.0, 2 / 3]),
    ButcherTableau("rk4", 4, _lower([[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]]), [1 / 6, 1 / 3, 1 / 3, 1 / 6],
                   [0.0, 0.5, 0.5, 1.0]),
    ButcherTableau("bosh3", 3, _lower([[], [0.5], [0.0, 0.75], [2 / 9, 1 / 3, 4 / 9]]),
                   [2 / 9, 1 / 3, 4 / 9, 0.0], [0.0, 0.5, 0.75, 1.0],
                   error_weights=np.array([2 / 9, 1 / 3, 4 / 9, 0.0])
                   - np.array([7 / 24, 1 / 4, 1 / 3, 1 / 8]),
                   error_order=2),
    ButcherTableau("dopri5", 5, _lower([
        [], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656], _DOPRI5_B[:6]]),
        _DOPRI5_B, [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
        error_weights=np.array(_DOPRI5_B) - np.array(_DOPRI5_BHAT), error_order=4,
        c_mid=np.array([6025192743 / 30085553152, 0.0, 51252292925 / 65400821598,
                        -2691868925 / 45128329728, 187940372067 / 1594534317072,
                        -1776094331 / 19743644256, 11237099 / 235043384]) / 2),
    ButcherTableau("tsit5", 5, _lower([
        [], [0.161], [-0.008480655492356989, 0.335480655492357],
        [2.897153057105493, -6.359448489975075, 4.3622954328695815],
        [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
        [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
        _TSIT5_B[:6]]),
        _TSIT5_B, [0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
        error_weights=np.array(_TSIT5_E), error_order=4),
]}


class ExplicitRK(Stepper):
    """One explicit Runge–Kutta step for any :class:`ButcherTableau` (batched over samples).

    ``StepResult.interp`` holds the stages ``k_1 .. k_s`` (a tuple of ``[B, *S]``) used by the dense output;
    they are combined only when a requested time falls inside a step.
    """

    def __init__(self, tableau: ButcherTableau) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.error_order = tableau.error_order
        self.fsal = tableau.fsal
        s = tableau.stages
        rows = [tableau.b if (self.fsal and i == s - 1) else tableau.a[i] for i in range(1, s)]
        self._stage_rows = [(float(tableau.c[i]), nonzero(row[:i])) for i, row in enumerate(rows, start=1)]
        self._b_row = nonzero(tableau.b)
        self._e_row = nonzero(tableau.error_weights) if tableau.error_weights is not None else []
        self._mid_row = nonzero(tableau.c_mid) if tableau.c_mid is not None else []

    def init(self, field: Any, t0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor | None:
        """``f(t0, y0)`` for FSAL methods (it is the first stage), else ``None``."""
        return field(t0.to(y0.dtype), y0) if self.fsal else None

    def step(self, field: Any, t: torch.Tensor, y: torch.Tensor, dt: torch.Tensor,
             f0: torch.Tensor | None) -> StepResult:
        """Advance ``y [B, *S]`` from ``t [B]`` by ``dt [B]`` (time dtype); ``f0 = f(t, y)`` if known."""
        shape = (-1,) + (1,) * (y.dim() - 1)
        t_y = t.to(y.dtype)
        h = dt.to(y.dtype)
        h_b = h.reshape(shape)
        n_evals = 0
        if f0 is None:
            f0 = field(t_y, y)
            n_evals += 1
        ks = [f0]
        y1 = y
        for i, (c_i, row) in enumerate(self._stage_rows, start=1):
            # y_i = y + h Σ_j a_ij k_j over the non-zero a_ij
            y_i = torch.addcmul(y, h_b, combine(row, ks))
            if self.fsal and i == self.tableau.stages - 1:
                y1 = y_i
            ks.append(field(torch.add(t_y, h, alpha=c_i), y_i))
            n_evals += 1
        if not self.fsal:
            y1 = torch.addcmul(y, h_b, combine(self._b_row, ks))
        error = None
        if self._e_row:
            with torch.no_grad():  # the engine's step control only: no gradient flows through it
                error = torch.mul(h_b, combine(self._e_row, ks))
        return StepResult(y=y1, error=error, f_end=ks[-1] if self.fsal else None, interp=tuple(ks),
                          n_f_evals=n_evals)

    def interpolate(self, theta: torch.Tensor, dt: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor,
                    f0: torch.Tensor | None, f1: torch.Tensor | None, interp: Any) -> torch.Tensor:
        """Dense output: quartic through ``y0, y(t+h/2), y1`` with end slopes when the tableau has a midpoint
        formula (Shampine 1986, dopri5), else the cubic Hermite interpolant of the base class."""
        if not self._mid_row or f0 is None or f1 is None:
            return super().interpolate(theta, dt, y0, y1, f0, f1, interp)
        shape = (-1,) + (1,) * (y0.dim() - 1)
        h = dt.to(y0.dtype).reshape(shape)
        x = theta.to(y0.dtype).reshape(shape)
        y_mid = torch.addcmul(y0, h, combine(self._mid_row, interp))
        # p(x) = y0 + x h f0 + c2 x² + c3 x³ + c4 x⁴ with p(1) = y1, p'(1) = h f1, p(1/2) = y_mid
        c4 = 2 * h * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid
        c3 = h * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid
        c2 = h * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid
        return y0 + x * (h * f0 + x * (c2 + x * (c3 + x * c4)))


register_tableaux(TABLEAUX.values(), ExplicitRK, "explicit")
