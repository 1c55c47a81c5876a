"""Batched, differentiable Rosenbrock–Wanner methods: ``rosenbrock23``, ``rodas4``, ``rodas5p``.

A Rosenbrock method (Hairer & Wanner, *Solving ODEs II*, §IV.7, eq. (7.4)) for ``y' = f(t, y)`` with
``J = ∂f/∂y(t0, y0)`` and ``f_t = ∂f/∂t(t0, y0)`` computes ``s`` stages

    (I - h γ J) k_i = h f(t0 + α_i h, y0 + Σ_{j<i} α_ij k_j) + h J Σ_{j<i} γ_ij k_j + h² γ_i f_t,
    y1 = y0 + Σ b_i k_i,        ŷ1 = y0 + Σ b̂_i k_i   (embedded solution),

with ``α_i = Σ_j α_ij``, ``γ_i = Σ_{j≤i} γ_ij`` and ``γ_ii = γ``. Only one LU factorisation of
``I - hγJ`` per step is needed. The stepper runs the equivalent *transformed* form (HW eq. (7.4')),
``u_i = Σ_{j≤i} γ_ij k_j``:

    (I/(hγ) - J) u_i = f(t0 + α_i h, y0 + Σ_{j<i} a_ij u_j) + Σ_{j<i} (c_ij / h) u_j + γ_i h f_t,
    y1 = y0 + Σ m_i u_i,

with ``(a_ij) = (α_ij) Γ⁻¹``, ``(c_ij) = diag(γ⁻¹) - Γ⁻¹``, ``m = b Γ⁻¹``.

Tableaux are data (:class:`RosenbrockTableau`) that check themselves on construction: the B-series order
conditions of Rosenbrock methods with exact Jacobian (every rooted tree up to the method's order, for the
solution and for the embedded solution), the consistency of ``α_i`` and ``γ_i``, and for tableaux given in
transformed form that the published ``c_i``/``d_i`` agree with the coefficients. One stepper,
:class:`RosenbrockStepper`, runs every tableau.

Coefficients (facts from the publications, as tabulated by OrdinaryDiffEq.jl):

* ``rosenbrock23``: Shampine & Reichelt, "The MATLAB ODE suite", SIAM J. Sci. Comput. 18 (1997) — ode23s,
  ``d = 1/(2+√2)``, ``e32 = 6+√2``; order 2 with a 3rd-order error estimate (uses the FSAL evaluation
  ``f(t1, y1)``), L-stable; its own order-2 interpolant from the stages.
* ``rodas4``: Hairer & Wanner (1996), RODAS (``γ = 1/4``), order 4(3), stiffly accurate, with its
  order-3 dense output.
* ``rodas5p``: Steinebach, "Construction of Rosenbrock–Wanner method Rodas5P and numerical benchmarks
  within the Julia Differential Equations package", BIT Numer. Math. 63:27 (2023); order 5(4), 8 stages,
  stiffly accurate, with its order-4 dense output.

Where each method is not suited (measured by ``benchmarks/bench_stiff_controllers.py`` on the stiff test set, in
mixed correct digits): ``rosenbrock23`` is a low-order method for loose tolerances; at rtol ≤ 1e-7 it needs tens
of thousands of steps (Robertson to 1e11: ~10 000 steps at 1e-7; OREGO at 1e-7 returns 4.4 digits, short of 5)
and can stop at ``max_steps`` (a :class:`~pysciml.errors.SolverWarning` says so). ``rodas4`` on E5 at rtol 1e-4
(components of 1e-22 with a fixed atol of 1.7e-24) returns 1.2–1.7 digits with every controller, as do SciPy's
Radau/BDF/LSODA there; use ``rodas5p`` (2.4 digits and more) for such problems. Default step control per method:
:data:`pysciml.integrators.controller.CONTROLLER_DEFAULTS`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from .combination import combine, nonzero
from .registry import register_tableaux
from .stepper import Stepper, StepResult

# ---------------------------------------------------------------------------------------------------
# Order conditions
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Tree:
    """A rooted tree: its children (indices into the tree list), order ``|t|`` and density ``γ(t)``."""

    children: tuple[int, ...]
    order: int
    density: int


def _forests(total: int, max_index: int, trees: list[_Tree]) -> Iterator[tuple[int, ...]]:
    """Multisets (non-increasing index tuples) of trees with orders summing to ``total``."""
    if total == 0:
        yield ()
        return
    for idx in range(max_index, -1, -1):
        if trees[idx].order <= total:
            for rest in _forests(total - trees[idx].order, idx, trees):
                yield (idx,) + rest


def rooted_trees(max_order: int) -> list[_Tree]:
    """All rooted trees of order ``1 … max_order`` (1, 1, 2, 4, 9, 20, … of each order), children first."""
    trees = [_Tree((), 1, 1)]
    for order in range(2, max_order + 1):
        for children in list(_forests(order - 1, len(trees) - 1, trees)):
            density = order * math.prod(trees[c].density for c in children)
            trees.append(_Tree(children, order, density))
    return trees


def _elementary_weights(alpha: np.ndarray, gamma_mat: np.ndarray, trees: list[_Tree]) -> list[np.ndarray]:
    """Stage weights ``g(t) ∈ R^s`` of each tree for a Rosenbrock method with exact Jacobian.

    The stage ``k_i`` has B-series coefficient ``g_i(t)`` on tree ``t``, where
    ``g_i(•) = 1`` and ``g_i([t_1, …, t_m]) = Π_l (α g(t_l))_i + [m = 1] (Γ g(t_1))_i``: the ``f``
    evaluation contributes the Runge–Kutta product, the ``h J Σ γ_ij k_j`` term the single-child trees.
    """
    weights: list[np.ndarray] = []
    for tree in trees:
        g = np.ones(alpha.shape[0])
        for child in tree.children:
            g = g * (alpha @ weights[child])
        if len(tree.children) == 1:
            g = g + gamma_mat @ weights[tree.children[0]]
        weights.append(g)
    return weights


def order_residual(alpha: np.ndarray, gamma_mat: np.ndarray, b: np.ndarray, order: int) -> float:
    """Largest residual ``|b·g(t) - 1/γ(t)|`` over all rooted trees with ``|t| ≤ order``."""
    trees = rooted_trees(order)
    weights = _elementary_weights(alpha, gamma_mat, trees)
    return max(abs(float(b @ w) - 1.0 / t.density) for t, w in zip(trees, weights, strict=True))


def achieved_order(alpha: np.ndarray, gamma_mat: np.ndarray, b: np.ndarray, tol: float = 1e-10,
                   max_order: int = 6) -> int:
    """Largest ``p ≤ max_order`` such that every order condition up to ``p`` holds to ``tol``."""
    trees = rooted_trees(max_order)
    weights = _elementary_weights(alpha, gamma_mat, trees)
    p = 0
    for order in range(1, max_order + 1):
        residuals = [abs(float(b @ w) - 1.0 / t.density)
                     for t, w in zip(trees, weights, strict=True) if t.order == order]
        if max(residuals) > tol:
            break
        p = order
    return p


# ---------------------------------------------------------------------------------------------------
# Tableaux
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RosenbrockTableau:
    """Coefficients of one Rosenbrock method (HW §IV.7 notation), validated on construction.

    Attributes:
        name: method name.
        order: classical order of ``y1`` (checked against every order condition up to it).
        error_order: order of the embedded solution ``ŷ1`` (checked likewise).
        gamma: diagonal ``γ`` of ``Γ``.
        alpha: ``[s, s]`` strictly lower-triangular ``α_ij``.
        gamma_matrix: ``[s, s]`` lower-triangular ``Γ = (γ_ij)`` with diagonal ``γ``.
        b: ``[s]`` weights of the solution; ``b_hat``: ``[s]`` weights of the embedded solution.
        dense: ``[q, s]`` dense-output coefficients ``H`` acting on the transformed stages ``u_j``
            (``y(t0+θh) = (1-θ) y0 + θ (y1 + (1-θ)(K_1 + θ(K_2 + … θ K_q)))``, ``K_r = Σ_j H_rj u_j``),
            or ``None`` for cubic Hermite.
        dense_order: order of the dense output (informative; checked by the tests).
        reference: publication the coefficients come from.

    Derived (transformed form, HW (7.4')): ``a``, ``c_mat``, ``m``, ``m_err`` (``m - m̂``, weights of the
    error estimate ``y1 - ŷ1``), ``c`` (``α_i``), ``d`` (``γ_i``).
    """

    name: str
    order: int
    error_order: int
    gamma: float
    alpha: np.ndarray
    gamma_matrix: np.ndarray
    b: np.ndarray
    b_hat: np.ndarray
    dense: np.ndarray | None = None
    dense_order: int | None = None
    reference: str = ""
    a: np.ndarray = dataclasses.field(init=False, repr=False)
    c_mat: np.ndarray = dataclasses.field(init=False, repr=False)
    m: np.ndarray = dataclasses.field(init=False, repr=False)
    m_err: np.ndarray = dataclasses.field(init=False, repr=False)
    c: np.ndarray = dataclasses.field(init=False, repr=False)
    d: np.ndarray = dataclasses.field(init=False, repr=False)

    #: tolerance of the order-condition checks (coefficients are published to ~16 digits)
    TOL = 1e-10

    def __post_init__(self) -> None:
        alpha = np.asarray(self.alpha, dtype=np.float64)
        gmat = np.asarray(self.gamma_matrix, dtype=np.float64)
        s = alpha.shape[0]
        b = np.asarray(self.b, dtype=np.float64)
        b_hat = np.asarray(self.b_hat, dtype=np.float64)
        if alpha.shape != (s, s) or gmat.shape != (s, s) or b.shape != (s,) or b_hat.shape != (s,):
            raise ValueError(f"{self.name}: alpha, gamma_matrix must be [s, s] and b, b_hat [s] (s={s})")
        if np.any(np.triu(alpha) != 0):
            raise ValueError(f"{self.name}: alpha must be strictly lower triangular")
        if np.any(np.triu(gmat, 1) != 0) or not np.allclose(np.diag(gmat), self.gamma, rtol=1e-13, atol=0):
            raise ValueError(f"{self.name}: gamma_matrix must be lower triangular with diagonal gamma")
        for label, weights, p in (("solution", b, self.order), ("embedded", b_hat, self.error_order)):
            res = order_residual(alpha, gmat, weights, p)
            if res > self.TOL:
                raise ValueError(f"{self.name}: the {label} solution violates an order-{p} condition "
                                 f"(residual {res:.2e})")
        if np.allclose(b, b_hat):
            raise ValueError(f"{self.name}: the embedded solution equals the solution (no error estimate)")
        g_inv = np.linalg.inv(gmat)
        set_ = object.__setattr__
        set_(self, "alpha", alpha)
        set_(self, "gamma_matrix", gmat)
        set_(self, "b", b)
        set_(self, "b_hat", b_hat)
        set_(self, "a", np.tril(alpha @ g_inv, -1))
        set_(self, "c_mat", np.tril(np.diag(1.0 / np.diag(gmat)) - g_inv, -1))
        set_(self, "m", b @ g_inv)
        set_(self, "m_err", (b - b_hat) @ g_inv)
        set_(self, "c", alpha.sum(axis=1))
        set_(self, "d", gmat.sum(axis=1))
        if self.dense is not None:
            dense = np.atleast_2d(np.asarray(self.dense, dtype=np.float64))
            if dense.shape[1] != s:
                raise ValueError(f"{self.name}: dense must be [q, {s}], got {dense.shape}")
            set_(self, "dense", dense)

    @property
    def stages(self) -> int:
        """Number of stages ``s``."""
        return int(self.alpha.shape[0])

    @property
    def fsal(self) -> bool:
        """True when the last stage evaluates ``f(t0 + h, y1)`` (first-same-as-last)."""
        last = self.stages - 1
        return bool(np.allclose(self.alpha[last], self.b) and abs(self.c[last] - 1.0) < 1e-14
                    and self.b[last] == 0.0)

    @classmethod
    def from_transformed(cls, name: str, order: int, error_order: int, gamma: float, a: np.ndarray,
                         c_mat: np.ndarray, m: np.ndarray, m_hat: np.ndarray, c: np.ndarray, d: np.ndarray,
                         dense: np.ndarray | None = None, dense_order: int | None = None,
                         reference: str = "") -> RosenbrockTableau:
        """Build a tableau published in transformed form (``a_ij``, ``C_ij``, ``m``; HW (7.4')).

        ``c`` and ``d`` are the published ``α_i`` and ``γ_i``; they are checked against the coefficients.
        """
        a = np.asarray(a, dtype=np.float64)
        s = a.shape[0]
        g_inv = np.diag(np.full(s, 1.0 / gamma)) - np.asarray(c_mat, dtype=np.float64)
        gmat = np.linalg.inv(g_inv)
        gmat = np.tril(gmat)
        alpha = np.tril(a @ gmat, -1)
        b, b_hat = np.asarray(m) @ gmat, np.asarray(m_hat) @ gmat
        tab = cls(name, order, error_order, gamma, alpha, gmat, b, b_hat, dense, dense_order, reference)
        for label, given, derived in (("c (alpha_i)", c, tab.c), ("d (gamma_i)", d, tab.d)):
            if not np.allclose(given, derived, rtol=0, atol=1e-12):
                raise ValueError(f"{name}: published {label} {np.asarray(given)} disagree with the "
                                 f"coefficients {derived}")
        return tab

    def stability_function(self, z: Any) -> np.ndarray:
        """``R(z) = 1 + z bᵀ (I - z(α + Γ))⁻¹ 1`` (the step multiplier on ``y' = λy``, ``z = hλ``)."""
        z_arr = np.atleast_1d(np.asarray(z, dtype=np.complex128))
        beta = self.alpha + self.gamma_matrix
        eye = np.eye(self.stages)
        ones = np.ones(self.stages)
        out = np.array([1.0 + zz * (self.b @ np.linalg.solve(eye - zz * beta, ones)) for zz in z_arr.ravel()])
        return out.reshape(z_arr.shape)


def _lower(n: int, rows: list[list[float]]) -> np.ndarray:
    """``[n, n]`` matrix whose row ``i`` starts with ``rows[i-1]`` below the diagonal (row 0 empty)."""
    out = np.zeros((n, n))
    for i, row in enumerate(rows, start=1):
        out[i, : len(row)] = row
    return out


def _rosenbrock23() -> RosenbrockTableau:
    # ode23s (Shampine & Reichelt 1997) written in HW form: with W = I - h d J,
    #   W k1 = F0 + h d T;  W (k2 - k1) = F1 - k1;  W k3 = F2 - e32 (k2 - F1) - 2 (k1 - F0) + h d T,
    # which gives α21 = 1/2, γ21 = -d, α32 = 1 (F2 = f(t1, y1)), γ31 = (e32 - 2) d, γ32 = -e32 d;
    # y1 = y0 + h k2 and the third-order solution is y1 + (h/6)(k1 - 2 k2 + k3) (the order conditions
    # checked on construction fix the sign).
    d = 1.0 / (2.0 + math.sqrt(2.0))
    e32 = 6.0 + math.sqrt(2.0)
    alpha = _lower(3, [[0.5], [0.0, 1.0]])
    gmat = _lower(3, [[-d], [(e32 - 2.0) * d, -e32 * d]]) + d * np.eye(3)
    b = np.array([0.0, 1.0, 0.0])
    err = np.array([1.0, -2.0, 1.0]) / 6.0
    # ode23s interpolant y0 + h[θ(1-θ) k1 + θ(θ-2d) k2]/(1-2d) = (1-θ)y0 + θ(y1 + (1-θ)K1) with
    # K1 = h(k1 - k2)/(1-2d); in transformed stages (k = Γ⁻¹u) that is one row of H. Unlike cubic Hermite
    # it does not use f(t1, y1), whose stiff components amplify tiny errors of y1.
    dense = (np.array([1.0, -1.0, 0.0]) / (1.0 - 2.0 * d)) @ np.linalg.inv(gmat)
    return RosenbrockTableau("rosenbrock23", 2, 3, d, alpha, gmat, b, b + err, dense, 2,
                             "Shampine & Reichelt, SIAM J. Sci. Comput. 18:1-22 (1997), ode23s")


def _rodas_stiffly_accurate(name: str, order: int, error_order: int, gamma: float,
                            a_rows: list[list[float]], c_rows: list[list[float]], c: list[float],
                            d: list[float], dense: list[list[float]], dense_order: int,
                            reference: str) -> RosenbrockTableau:
    """Rodas-type tableau: the last two stages evaluate at ``ŷ1`` and ``y1 - u_s`` (``c = 1``, ``d = 0``).

    ``a_rows`` are the published rows up to the first stage at ``t0 + h``; the remaining rows append 1's,
    ``m`` is the last row plus ``u_s`` and the embedded solution drops ``u_s`` (so ``y1 - ŷ1 = u_s``).
    """
    s = len(c_rows) + 1
    last = a_rows[-1]
    rows = list(a_rows)
    while len(rows) < s - 1:
        rows.append(list(last) + [1.0] * (len(rows) + 1 - len(last)))
    a = _lower(s, rows)
    c_mat = _lower(s, c_rows)
    m = np.append(a[s - 1, : s - 1], 1.0)
    m_hat = np.append(a[s - 1, : s - 1], 0.0)
    c_full = np.concatenate([[0.0], c, np.ones(s - 1 - len(c))])
    d_full = np.concatenate([d, np.zeros(s - len(d))])
    dense_arr = np.zeros((len(dense), s))
    for r, row in enumerate(dense):
        dense_arr[r, : len(row)] = row
    return RosenbrockTableau.from_transformed(name, order, error_order, gamma, a, c_mat, m, m_hat, c_full,
                                              d_full, dense_arr, dense_order, reference)


def _rodas4() -> RosenbrockTableau:
    return _rodas_stiffly_accurate(
        "rodas4", 4, 3, 0.25,
        a_rows=[[1.544000000000000],
                [0.9466785280815826, 0.2557011698983284],
                [3.314825187068521, 2.896124015972201, 0.9986419139977817],
                [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950]],
        c_rows=[[-5.668800000000000],
                [-2.430093356833875, -0.2063599157091915],
                [-0.1073529058151375, -9.594562251023355, -20.47028614809616],
                [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160],
                [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
                 -6.058818238834054]],
        c=[0.386, 0.21, 0.63],
        d=[0.25, -0.1043, 0.1035, -0.03620000000000023],
        dense=[[10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
                1.025137723295662],
               [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
                -6.594389125716872]],
        dense_order=3,
        reference="Hairer & Wanner, Solving ODEs II (2nd ed. 1996), RODAS; as tabulated in OrdinaryDiffEq.jl")


def _rodas5p() -> RosenbrockTableau:
    return _rodas_stiffly_accurate(
        "rodas5p", 5, 4, 0.21193756319429014,
        a_rows=[[3.0],
                [2.849394379747939, 0.45842242204463923],
                [-6.954028509809101, 2.489845061869568, -10.358996098473584],
                [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
                [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
                 0.030198172008377946]],
        c_rows=[[-14.155112264123755],
                [-17.97296035885952, -2.859693295451294],
                [147.12150275711716, -1.41221402718213, 71.68940251302358],
                [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
                [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
                 -0.6610691825249471],
                [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
                 -19.097331116725623, -28.087943162872662],
                [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
                 -40.06618937091002, -54.66780262877968, -9.48861652309627]],
        c=[0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664],
        d=[0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734,
           2.325825639765069],
        dense=[[25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
                0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
               [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
                20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
               [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
                -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722]],
        dense_order=4,
        reference="Steinebach, BIT Numer. Math. 63:27 (2023), Rodas5P; coefficients as in OrdinaryDiffEq.jl")


ROSENBROCK23 = _rosenbrock23()
RODAS4 = _rodas4()
RODAS5P = _rodas5p()
TABLEAUX: dict[str, RosenbrockTableau] = {tab.name: tab for tab in (ROSENBROCK23, RODAS4, RODAS5P)}


# ---------------------------------------------------------------------------------------------------
# The stepper
# ---------------------------------------------------------------------------------------------------


#: Up to this state dimension the stages are solved with an explicit ``W⁻¹`` (formed once per step from the LU
#: factors): ``s`` batched matvecs cost less than ``s`` batched LU solves when the per-call overhead dominates.
_INVERSE_MAX_DIM = 8


def _as_field(field: Any) -> Any:
    """The engine passes a :class:`~pysciml.integrators.fields.VectorField`; wrap bare callables."""
    if hasattr(field, "linearization"):
        return field
    from .fields import VectorField

    return VectorField(field)


class RosenbrockStepper(Stepper):
    """One step of any :class:`RosenbrockTableau`, batched over samples with per-sample ``dt``.

    Per step: one Jacobian ``J [B, D, D]`` and ``∂f/∂t`` from the field (analytic or autograd; skipped
    for autonomous fields), one batched LU factorisation of ``I/(hγ) - J`` (``torch.linalg.lu_factor_ex``,
    which does not raise on a singular sample: that sample turns non-finite and the engine flags it),
    ``s`` batched LU solves (for ``D <= 8``: one solve for the inverse and ``s`` batched matvecs) and
    ``s`` (``s - 1`` with a known ``f0``) evaluations of ``f``. Every operation is a torch op, so the step is
    differentiable by backpropagation (through ``J`` as well when it comes from autograd). States must be flat,
    ``y [B, D]``. Stage combinations skip zero coefficients and use fused ``add(alpha=)`` so that small-state,
    large-batch problems are not dominated by op overhead.
    """

    def __init__(self, tableau: RosenbrockTableau) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.error_order = tableau.error_order
        self.fsal = tableau.fsal
        tab = tableau
        s = tab.stages

        self._a_rows = [nonzero(tab.a[i, :i]) for i in range(s)]
        self._c_rows = [nonzero(tab.c_mat[i, :i]) for i in range(s)]
        self._times = [float(v) for v in tab.c]
        self._d = [float(v) for v in tab.d]
        # y1 = (last stage argument) + Σ (m_j - a_sj) u_j: for stiffly accurate tableaux only u_s remains
        self._y1_from_last = nonzero(tab.m - np.append(tab.a[s - 1, : s - 1], 0.0))
        self._err = nonzero(tab.m_err)
        self._dense_cache: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def init(self, field: Any, t0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor | None:
        """``f(t0, y0)``: the first stage needs it (FSAL methods then reuse ``f(t1, y1)``)."""
        return field(t0.to(y0.dtype), y0)

    def step(self, field: Any, t: torch.Tensor, y: torch.Tensor, dt: torch.Tensor,
             f0: torch.Tensor | None) -> StepResult:
        """Advance ``y [B, D]`` from ``t [B]`` by ``dt [B]`` (HW (7.4') in transformed stages ``u_i``).

        ``interp`` of the result holds the stacked stages ``[B, s, D]`` for the dense output (``None`` when
        the tableau has no interpolant of its own).
        """
        if y.dim() != 2:
            raise ValidationError(f"Rosenbrock methods need a flat state y [batch, dim], got "
                                  f"{tuple(y.shape)}; reshape the state to [batch, dim]")
        field = _as_field(field)
        tab = self.tableau
        dim = y.shape[1]
        t_y = t.to(y.dtype)
        dt_y = dt.to(y.dtype)
        h = dt_y.unsqueeze(-1)  # [B, 1]
        inv_h = 1.0 / h
        jac, f_t = field.linearization(t_y, y)
        autonomous = field.autonomous  # then the stage times are not needed
        eye = torch.eye(dim, dtype=y.dtype, device=y.device)
        lu, pivots, _ = torch.linalg.lu_factor_ex(eye * (inv_h / tab.gamma).unsqueeze(-1) - jac)
        # small systems: one batched solve for W⁻¹, then a batched matvec per stage (cheaper per call)
        w_inv = torch.linalg.lu_solve(lu, pivots, eye.expand(y.shape[0], dim, dim)) if dim <= _INVERSE_MAX_DIM \
            else None
        n_evals = 0
        stages: list[torch.Tensor] = []
        y_i = y
        f_i = f0
        for i in range(tab.stages):
            if i == 0:
                if f0 is None:
                    f0 = field(t_y, y)
                    n_evals += 1
                f_i = f0
            else:
                y_i = combine(self._a_rows[i], stages, y)
                f_i = field(t_y if autonomous or self._times[i] == 0.0 else t_y + self._times[i] * dt_y, y_i)
                n_evals += 1
            rhs = f_i
            coupling = combine(self._c_rows[i], stages)
            if coupling is not None:
                rhs = torch.addcmul(rhs, coupling, inv_h)
            if f_t is not None and self._d[i] != 0.0:
                rhs = torch.addcmul(rhs, f_t, h, value=self._d[i])
            rhs = rhs.unsqueeze(-1)
            u = torch.bmm(w_inv, rhs) if w_inv is not None else torch.linalg.lu_solve(lu, pivots, rhs)
            stages.append(u.squeeze(-1))
        y1 = combine(self._y1_from_last, stages, y_i)
        error = combine(self._err, stages)
        interp = None if tab.dense is None else torch.stack(stages, dim=1)
        return StepResult(y=y1, error=error, f_end=f_i if self.fsal else None, interp=interp,
                          n_f_evals=n_evals)

    def interpolate(self, theta: torch.Tensor, dt: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor,
                    f0: torch.Tensor | None, f1: torch.Tensor | None, interp: Any) -> torch.Tensor:
        """Rodas dense output ``(1-θ) y0 + θ (y1 + (1-θ)(K_1 + θ(K_2 + … θ K_q)))``, ``K = H u``.

        ``interp`` holds the stages ``u [B, s, D]`` of the step (for ``rosenbrock23`` ``q = 1``: the ode23s
        interpolant); a tableau without its own interpolant (``dense=None``) falls back to cubic Hermite.
        """
        if interp is None:
            return super().interpolate(theta, dt, y0, y1, f0, f1, interp)
        key = (interp.dtype, interp.device)
        if key not in self._dense_cache:
            self._dense_cache[key] = torch.as_tensor(self.tableau.dense, dtype=interp.dtype,
                                                     device=interp.device)
        k = torch.einsum("qs,bsd->bqd", self._dense_cache[key], interp)
        th = theta.to(y0.dtype).unsqueeze(-1)
        poly = k[:, -1]
        for r in range(k.shape[1] - 2, -1, -1):
            poly = k[:, r] + th * poly
        return (1 - th) * y0 + th * (y1 + (1 - th) * poly)


register_tableaux(TABLEAUX.values(), RosenbrockStepper, "rosenbrock")
