"""Butcher tableaux as data that validate themselves (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1–2).

An explicit ``s``-stage Runge–Kutta method is given by a strictly lower-triangular matrix ``A [s, s]``,
nodes ``c [s]`` and weights ``b [s]``; an embedded pair adds error weights ``e = b - b̂`` (the difference
between the propagated and the embedded solution). On construction we check the consistency conditions
``Σ_j a_ij = c_i``, ``Σ_i b_i = 1`` and ``Σ_i e_i = 0``, and detect *first same as last* (FSAL): the last
stage is evaluated at ``t + h`` on the propagated solution (``c_s = 1``, ``a_s· = b``, ``b_s = 0``) so it
is ``f(t1, y1)`` and seeds the next step.

Coefficients that are rational numbers are given as :class:`fractions.Fraction` and checked in exact
arithmetic (a mistyped digit cannot hide below a floating-point tolerance); coefficients published as
decimals are checked to ``1e-12``. :func:`order_conditions` evaluates the order conditions
``bᵀ Φ(τ) = 1/γ(τ)`` over all rooted trees ``τ`` (HNW I, Theorem II.2.13), exactly for rational tableaux;
the same conditions with ``b(θ)`` and ``θ^{|τ|}/γ(τ)`` give the order of a continuous extension.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import ValidationError

_TOL = 1e-12

Tree = tuple  # a rooted tree: the sorted tuple of its children's subtrees (the leaf is ())


@functools.cache
def rooted_trees(order: int) -> tuple[Tree, ...]:
    """All rooted trees with ``order`` nodes, each as the canonical sorted tuple of its subtrees."""
    if order == 1:
        return ((),)
    return tuple(sorted({tuple(sorted(forest)) for forest in _forests(order - 1, None)}))


def _forests(nodes: int, largest: Tree | None) -> list[tuple[Tree, ...]]:
    """Multisets of trees with ``nodes`` nodes in total, listed in non-increasing order (no duplicates)."""
    if nodes == 0:
        return [()]
    out = []
    for size in range(nodes, 0, -1):
        for tree in rooted_trees(size):
            key = (size, tree)
            if largest is not None and key > (_size(largest), largest):
                continue
            out += [(tree, *rest) for rest in _forests(nodes - size, tree)]
    return out


@functools.cache
def _size(tree: Tree) -> int:
    return 1 + sum(_size(child) for child in tree)


@functools.cache
def _density(tree: Tree) -> int:
    """``γ(τ) = |τ| Π γ(children)``."""
    out = _size(tree)
    for child in tree:
        out *= _density(child)
    return out


def order_conditions(a: Any, b: Any, order: int, theta: Any = 1) -> list[Any]:
    """Residuals ``bᵀ Φ(τ) - θ^{|τ|}/γ(τ)`` for every rooted tree with ``|τ| <= order``.

    ``a [s, s]`` and ``b [s]`` are nested sequences of numbers (:class:`~fractions.Fraction` for exact
    arithmetic, or floats); ``b`` may be the weights ``b(θ)`` of a continuous extension evaluated at ``theta``.
    All residuals vanish exactly when the method (or its dense output at ``theta``) has that order.
    """
    a = [list(row) for row in a]
    b = list(b)
    s = len(b)
    cache: dict[Tree, list[Any]] = {}

    def phi(tree: Tree) -> list[Any]:  # Φ_i(τ) = Π_children (A Φ(child))_i
        if tree not in cache:
            out: list[Any] = [1] * s
            for child in tree:
                g = phi(child)
                out = [out[i] * sum(a[i][j] * g[j] for j in range(s)) for i in range(s)]
            cache[tree] = out
        return cache[tree]

    exact = all(_is_exact(x) for x in (a, b, [theta]))
    res = []
    for n in range(1, order + 1):
        for tree in rooted_trees(n):
            target = Fraction(1, _density(tree)) * theta**n if exact else theta**n / _density(tree)
            res.append(sum(b[i] * phi(tree)[i] for i in range(s)) - target)
    return res


def _is_exact(x: Any) -> bool:
    return all(isinstance(v, (int, Fraction)) and not isinstance(v, bool) for v in np.asarray(x, dtype=object).flat)


def _close(x: Any, target: Any, exact: bool) -> bool:
    return x == target if exact else abs(float(x) - float(target)) <= _TOL


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta tableau (optionally an embedded pair with a dense output).

    Attributes:
        name: method name used by ``pysciml.odeint(method=...)``.
        order: classical order of the propagated solution.
        a: ``[s, s]`` strictly lower-triangular stage matrix.
        b: ``[s]`` weights of the propagated solution.
        c: ``[s]`` nodes.
        error_weights: ``[s]`` weights ``b - b̂`` of the local error estimate, or ``None``.
        error_order: order of the embedded solution (``None`` without one).
        c_mid: ``[s]`` weights giving ``y(t + h/2) ≈ y0 + h Σ c_mid_i k_i`` (Shampine's midpoint for
            Dormand–Prince), used for a quartic interpolant through ``y0, y_mid, y1`` and the end slopes.
        dense: ``[s, q]`` coefficients of a continuous extension ``b_i(θ) = Σ_j dense[i, j] θ^{j+1}``, so that
            ``y(t + θh) ≈ y0 + h Σ_i b_i(θ) k_i`` (Tsitouras' interpolant for tsit5); wins over ``c_mid``.

    Each array may be given as floats or as exact :class:`~fractions.Fraction` values; the attributes hold
    float64 arrays and :attr:`exact` the exact values (``None`` when some coefficient is a decimal).
    """

    name: str
    order: int
    a: Any
    b: Any
    c: Any
    error_weights: Any = None
    error_order: int | None = None
    c_mid: Any = None
    dense: Any = None
    exact: dict[str, Any] | None = dataclasses.field(default=None, init=False)

    def __post_init__(self) -> None:
        parts = {k: getattr(self, k) for k in ("a", "b", "c", "error_weights", "c_mid", "dense")
                 if getattr(self, k) is not None}
        exact = all(_is_exact(v) for v in parts.values())
        if exact:
            object.__setattr__(self, "exact", {k: np.asarray(v, dtype=object) for k, v in parts.items()})
        for k, v in parts.items():
            object.__setattr__(self, k, np.asarray(np.asarray(v, dtype=object), dtype=np.float64))
        ex = self.exact if exact else {k: np.asarray(getattr(self, k)) for k in parts}
        a, b, c = ex["a"], ex["b"], ex["c"]
        s = b.shape[0]
        if a.shape != (s, s) or c.shape != (s,):
            raise ValidationError(f"tableau {self.name!r}: a must be [{s}, {s}] and c [{s}], got "
                                  f"{a.shape} and {c.shape}")
        if np.any(np.triu(self.a) != 0.0):
            raise ValidationError(f"tableau {self.name!r}: a must be strictly lower triangular (explicit)")
        if not all(_close(sum(a[i]), c[i], exact) for i in range(s)):
            raise ValidationError(f"tableau {self.name!r}: row sums of a must equal c, "
                                  f"got {self.a.sum(axis=1)} vs {self.c}")
        if not _close(sum(b), 1, exact):
            raise ValidationError(f"tableau {self.name!r}: weights b must sum to 1, got {self.b.sum()!r}")
        if (self.error_weights is None) != (self.error_order is None):
            raise ValidationError(f"tableau {self.name!r}: give both error_weights and error_order, "
                                  "or neither")
        if self.error_weights is not None:
            e = ex["error_weights"]
            if e.shape != (s,) or not _close(sum(e), 0, exact):
                raise ValidationError(f"tableau {self.name!r}: error weights must be [{s}] and sum to 0, "
                                      f"got shape {e.shape} and sum {self.error_weights.sum()!r}")
        if self.c_mid is not None:
            cm = ex["c_mid"]
            if cm.shape != (s,) or not _close(sum(cm), Fraction(1, 2), exact):
                raise ValidationError(f"tableau {self.name!r}: c_mid must be [{s}] and sum to 1/2")
        if self.dense is not None:
            d = ex["dense"]
            if d.ndim != 2 or d.shape[0] != s or not all(_close(sum(d[i]), b[i], exact) for i in range(s)):
                raise ValidationError(f"tableau {self.name!r}: dense must be [{s}, q] with b_i(1) = b_i")

    @property
    def stages(self) -> int:
        """Number of stages ``s``."""
        return int(self.b.shape[0])

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage equals ``f(t + h, y1)`` (detected from the data)."""
        return (self.stages > 1 and self.c[-1] == 1.0 and self.b[-1] == 0.0
                and bool(np.array_equal(self.a[-1], self.b)))

    def dense_weights(self, theta: Any) -> list[Any]:
        """``b_i(θ)`` of the continuous extension (exact when the tableau and ``theta`` are)."""
        d = self.exact["dense"] if self.exact is not None and isinstance(theta, (int, Fraction)) else self.dense
        if d is None:
            raise ValidationError(f"tableau {self.name!r} has no continuous extension (dense)")
        return [sum(d[i, j] * theta ** (j + 1) for j in range(d.shape[1])) for i in range(d.shape[0])]


def lower(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """Strictly lower-triangular ``[s, s]`` object matrix from its ragged rows (row ``i`` has ``i`` entries);
    entries keep their type (Fractions stay exact), the rest is ``0``."""
    s = len(rows)
    a = np.zeros((s, s), dtype=object)
    a[...] = 0
    for i, row in enumerate(rows):
        a[i, : len(row)] = list(row)
    return a
