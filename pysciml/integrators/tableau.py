"""Butcher tableaux as data that validate themselves (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1).

An explicit ``s``-stage Runge–Kutta method is given by a strictly lower-triangular matrix ``A [s, s]``,
nodes ``c [s]`` and weights ``b [s]``; an embedded pair adds error weights ``e = b - b̂`` (the difference
between the propagated and the embedded solution). On construction we check the consistency conditions
``Σ_j a_ij = c_i``, ``Σ_i b_i = 1`` and ``Σ_i e_i = 0``, and detect *first same as last* (FSAL): the last
stage is evaluated at ``t + h`` on the propagated solution (``c_s = 1``, ``a_s· = b``, ``b_s = 0``) so it
is ``f(t1, y1)`` and seeds the next step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ValidationError

_TOL = 1e-12


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta tableau (optionally an embedded pair with a midpoint dense output).

    Attributes:
        name: method name used by ``pysciml.odeint(method=...)``.
        order: classical order of the propagated solution.
        a: ``[s, s]`` strictly lower-triangular stage matrix.
        b: ``[s]`` weights of the propagated solution.
        c: ``[s]`` nodes.
        error_weights: ``[s]`` weights ``b - b̂`` of the local error estimate, or ``None``.
        error_order: order of the embedded solution (``None`` without one).
        c_mid: ``[s]`` weights giving ``y(t + h/2) ≈ y0 + h Σ c_mid_i k_i`` (Shampine's dense output
            for Dormand–Prince), used for a quartic interpolant; ``None``: cubic Hermite.
    """

    name: str
    order: int
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    error_weights: np.ndarray | None = None
    error_order: int | None = None
    c_mid: np.ndarray | None = None

    def __post_init__(self) -> None:
        a = np.asarray(self.a, dtype=np.float64)
        b = np.asarray(self.b, dtype=np.float64)
        c = np.asarray(self.c, dtype=np.float64)
        s = b.shape[0]
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        if a.shape != (s, s) or c.shape != (s,):
            raise ValidationError(f"tableau {self.name!r}: a must be [{s}, {s}] and c [{s}], got "
                                  f"{a.shape} and {c.shape}")
        if np.any(np.triu(a) != 0.0):
            raise ValidationError(f"tableau {self.name!r}: a must be strictly lower triangular (explicit)")
        if np.max(np.abs(a.sum(axis=1) - c)) > _TOL:
            raise ValidationError(f"tableau {self.name!r}: row sums of a must equal c, "
                                  f"got {a.sum(axis=1)} vs {c}")
        if abs(b.sum() - 1.0) > _TOL:
            raise ValidationError(f"tableau {self.name!r}: weights b must sum to 1, got {b.sum()!r}")
        if (self.error_weights is None) != (self.error_order is None):
            raise ValidationError(f"tableau {self.name!r}: give both error_weights and error_order, "
                                  "or neither")
        if self.error_weights is not None:
            e = np.asarray(self.error_weights, dtype=np.float64)
            object.__setattr__(self, "error_weights", e)
            if e.shape != (s,) or abs(e.sum()) > _TOL:
                raise ValidationError(f"tableau {self.name!r}: error weights must be [{s}] and sum to 0, "
                                      f"got shape {e.shape} and sum {e.sum()!r}")
        if self.c_mid is not None:
            cm = np.asarray(self.c_mid, dtype=np.float64)
            object.__setattr__(self, "c_mid", cm)
            if cm.shape != (s,) or abs(cm.sum() - 0.5) > _TOL:
                raise ValidationError(f"tableau {self.name!r}: c_mid must be [{s}] and sum to 1/2")

    @property
    def stages(self) -> int:
        """Number of stages ``s``."""
        return int(self.b.shape[0])

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage equals ``f(t + h, y1)`` (detected from the data)."""
        return (self.stages > 1 and self.c[-1] == 1.0 and self.b[-1] == 0.0
                and bool(np.array_equal(self.a[-1], self.b)))
