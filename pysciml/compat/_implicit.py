"""Implicit Runge–Kutta methods on a fixed grid (the names of torchdiffeq's development version).

A step solves the stage equations ``K_i = f(t0 + c_i h, y0 + h Σ_j a_ij K_j)`` for all ``s`` stages at once by
simplified Newton: the Jacobian ``J = ∂f/∂y(t0, y0)`` is formed once per step (autograd, :class:`VectorField`),
the ``[sN, sN]`` matrix ``I - h A ⊗ J`` is LU-factorised once, and the iteration ``K ← K - (I - h A⊗J)⁻¹ (K - F(K))``
runs until the stage update is below ``atol + rtol |y0|`` (max norm) or ``max_iters``. The iterations are
differentiable (the graph runs through them; ``J`` is a fixed preconditioner, so the derivative of the converged
iterate is that of the exact stage solution). Then ``y1 = y0 + h Σ b_i K_i``.

Tableaux (Hairer & Wanner, *Solving ODEs II*, §IV.5 and §IV.6; Butcher, *Numerical Methods for ODEs*, 3rd ed.):
implicit Euler (order 1), implicit midpoint (= Gauss 1, order 2), trapezoid (Lobatto IIIA 2, order 2), Radau IIA
with 2 and 3 stages (orders 3, 5), Gauss–Legendre with 2 and 3 stages (orders 4, 6), the L-stable SDIRK of order 2
with ``γ = 1 - 1/√2`` (Alexander 1977), and TR-BDF2 as a 3-stage ESDIRK (Hosea & Shampine 1996, order 2).
Rational tableaux are exact :class:`~fractions.Fraction` values.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction as F
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from ..integrators.fields import VectorField
from ._fixed import FixedGrid
from ._problem import Problem


@dataclasses.dataclass(frozen=True)
class ImplicitTableau:
    """A (fully) implicit Runge–Kutta tableau: ``a [s, s]``, ``b [s]``, ``c [s]`` and the classical order.

    Entries may be :class:`~fractions.Fraction` (kept in :attr:`exact`, checked exactly) or floats (to 1e-13).
    """

    name: str
    order: int
    a: Any
    b: Any
    c: Any
    exact: dict[str, np.ndarray] | None = dataclasses.field(default=None, init=False)

    def __post_init__(self) -> None:
        parts = {k: np.asarray(getattr(self, k), dtype=object) for k in ("a", "b", "c")}
        exact = all(isinstance(v, (int, F)) for p in parts.values() for v in p.flat)
        object.__setattr__(self, "exact", parts if exact else None)
        for k, v in parts.items():
            object.__setattr__(self, k, v.astype(np.float64))
        s = self.b.shape[0]
        if self.a.shape != (s, s) or self.c.shape != (s,):
            raise ValidationError(f"tableau {self.name!r}: a must be [{s}, {s}] and c [{s}]")
        a, b, c = (parts[k] for k in ("a", "b", "c")) if exact else (self.a, self.b, self.c)

        def close(x: Any, y: Any) -> bool:
            return x == y if exact else abs(float(x) - float(y)) <= 1e-13

        if not all(close(sum(a[i]), c[i]) for i in range(s)) or not close(sum(b), 1):
            raise ValidationError(f"tableau {self.name!r}: need row sums of a = c and sum(b) = 1")


_R3, _R6, _R15, _R2 = math.sqrt(3), math.sqrt(6), math.sqrt(15), math.sqrt(2)
_G = 1 - _R2 / 2  # SDIRK2's γ, and TR-BDF2's trapezoidal fraction is 2γ
_W = _R2 / 4  # TR-BDF2's weights b = [w, w, γ] (its last row: the BDF2 stage)

TABLEAUX = {t.name: t for t in [
    ImplicitTableau("implicit_euler", 1, [[1]], [1], [1]),
    ImplicitTableau("implicit_midpoint", 2, [[F(1, 2)]], [1], [F(1, 2)]),
    ImplicitTableau("trapezoid", 2, [[0, 0], [F(1, 2), F(1, 2)]], [F(1, 2), F(1, 2)], [0, 1]),
    ImplicitTableau("radauIIA3", 3, [[F(5, 12), F(-1, 12)], [F(3, 4), F(1, 4)]], [F(3, 4), F(1, 4)], [F(1, 3), 1]),
    ImplicitTableau("radauIIA5", 5,
                    [[11 / 45 - 7 * _R6 / 360, 37 / 225 - 169 * _R6 / 1800, -2 / 225 + _R6 / 75],
                     [37 / 225 + 169 * _R6 / 1800, 11 / 45 + 7 * _R6 / 360, -2 / 225 - _R6 / 75],
                     [4 / 9 - _R6 / 36, 4 / 9 + _R6 / 36, 1 / 9]],
                    [4 / 9 - _R6 / 36, 4 / 9 + _R6 / 36, 1 / 9], [2 / 5 - _R6 / 10, 2 / 5 + _R6 / 10, 1.0]),
    ImplicitTableau("gl4", 4, [[1 / 4, 1 / 4 - _R3 / 6], [1 / 4 + _R3 / 6, 1 / 4]], [0.5, 0.5],
                    [1 / 2 - _R3 / 6, 1 / 2 + _R3 / 6]),
    ImplicitTableau("gl6", 6,
                    [[5 / 36, 2 / 9 - _R15 / 15, 5 / 36 - _R15 / 30],
                     [5 / 36 + _R15 / 24, 2 / 9, 5 / 36 - _R15 / 24],
                     [5 / 36 + _R15 / 30, 2 / 9 + _R15 / 15, 5 / 36]],
                    [5 / 18, 4 / 9, 5 / 18], [1 / 2 - _R15 / 10, 1 / 2, 1 / 2 + _R15 / 10]),
    ImplicitTableau("sdirk2", 2, [[_G, 0.0], [1 - _G, _G]], [1 - _G, _G], [_G, 1.0]),
    ImplicitTableau("trbdf2", 2, [[0.0, 0.0, 0.0], [_G, _G, 0.0], [_W, _W, _G]], [_W, _W, _G], [0.0, 2 * _G, 1.0]),
]}


class ImplicitRK(FixedGrid):
    """A fixed-grid implicit Runge–Kutta method (module docstring); option ``max_iters`` (100)."""

    def __init__(self, prob: Problem) -> None:
        super().__init__(prob, {"max_iters": 100})
        self.tableau = TABLEAUX[next(k for k in TABLEAUX if k.lower() == prob.method)]
        self.max_iters = int(self.opts["max_iters"])
        if self.max_iters < 1:
            raise ValidationError(f"options['max_iters'] must be >= 1, got {self.max_iters}")
        self._jac = VectorField(lambda tb, yb: self.f(tb[0], yb[0]).unsqueeze(0))

    def step(self, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
             y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tab = self.tableau
        s, n = tab.b.shape[0], y0.numel()
        a = torch.as_tensor(tab.a, dtype=y0.dtype, device=y0.device)
        b = torch.as_tensor(tab.b, dtype=y0.dtype, device=y0.device)
        h = dt.to(y0.dtype)
        times = [t0 + float(ci) * dt if ci != 1.0 else t1 for ci in tab.c]
        f0 = self.f(t0, y0)
        with torch.no_grad():
            jac = self._jac.jacobian(t0.reshape(1).to(y0.dtype), y0.detach().unsqueeze(0))[0]
            lu = torch.linalg.lu_factor(torch.eye(s * n, dtype=y0.dtype, device=y0.device) - h * torch.kron(a, jac))
        scale = self.atol + self.rtol * y0.detach().abs()
        k = f0.expand(s, n)
        for _ in range(self.max_iters):
            stages = y0 + h * (a @ k)
            residual = k - torch.stack([self.f(times[i], stages[i]) for i in range(s)])
            delta = torch.linalg.lu_solve(*lu, residual.reshape(-1, 1)).reshape(s, n)
            k = k - delta
            if bool(((h * delta).detach().abs() / scale).max() < 1):
                break
        else:
            warnings.warn(f"{tab.name}: Newton's iteration did not converge in {self.max_iters} iterations; the "
                          "solution may be inaccurate (use a smaller step_size)", stacklevel=3)
        return y0 + h * (b @ k), f0
