"""Explicit Runge–Kutta methods: the tableaux (data) and the one stepper that runs them all.

Tableaux (coefficients are published facts):

* ``euler`` (order 1), ``midpoint``, ``heun``, ``ralston`` (order 2), ``heun3`` (order 3), ``rk4`` (classical,
  order 4), ``rk4_38`` (Kutta's 3/8 rule, torchdiffeq's ``rk4``): Hairer, Nørsett & Wanner, *Solving ODEs I*,
  §II.1; fixed step only.
* ``adaptive_heun`` (Heun–Euler 2(1)) and ``fehlberg2`` (Fehlberg, NASA TR R-315 (1969), RKF2(1)): low-order
  adaptive pairs (torchdiffeq's), quartic dense output through their midpoint formula.
* ``bosh3``: Bogacki & Shampine, "A 3(2) pair of Runge–Kutta formulas", Appl. Math. Lett. 2 (1989), FSAL.
* ``dopri5``: Dormand & Prince, "A family of embedded Runge–Kutta formulae", J. Comput. Appl. Math. 6
  (1980), order 5(4), FSAL, with Shampine's (1986) midpoint dense output (quartic interpolant).
* ``tsit5``: Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column simplifying
  assumption", Comput. Math. Appl. 62 (2011), order 5(4), FSAL; Tsitouras' continuous extension (order 4).
* ``dopri8``: Prince & Dormand, "High order embedded Runge–Kutta formulae", J. Comput. Appl. Math. 7 (1981),
  RK8(7)13M, FSAL, with a degree-6 continuous extension of order 5 (the polynomials torchdiffeq evaluates at θ = 1/2).

Rational coefficients are exact :class:`~fractions.Fraction` values (checked exactly, see :mod:`.tableau`).

Stage ``i`` is ``k_i = f(t + c_i h, y + h Σ_j a_ij k_j)``; ``y1 = y + h Σ b_i k_i`` and the error
estimate is ``h Σ e_i k_i`` — both are contractions over the stacked stages (one ``matmul`` each).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import torch

from .combination import combine, nonzero
from .registry import register_tableaux
from .stepper import Stepper, StepResult
from .tableau import ButcherTableau, lower

F = Fraction


def _r(num: int, den: int) -> float:
    """A coefficient published as a ratio that is itself only an approximation (kept as a float)."""
    return num / den


_DOPRI5_B = [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]
_DOPRI5_BHAT = [F(5179, 57600), 0, F(7571, 16695), F(393, 640), F(-92097, 339200), F(187, 2100), F(1, 40)]
_BOSH3_B = [F(2, 9), F(1, 3), F(4, 9), 0]
_BOSH3_BHAT = [F(7, 24), F(1, 4), F(1, 3), F(1, 8)]
_TSIT5_B = [0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
            2.324710524099774, 0.0]
_TSIT5_E = [-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995, -0.1447110071732629,
            0.5823571654525552, -0.45808210592918697, 1 / 66]
# Tsitouras (2011), the continuous extension: b_i(θ) = r_i1 θ + r_i2 θ² + r_i3 θ³ + r_i4 θ⁴ (order 4)
_TSIT5_DENSE = [[1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
                [0.0, 0.1317, -0.2234, 0.1017],
                [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
                [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
                [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
                [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
                [0.0, 1.5, -4.0, 2.5]]

# Prince & Dormand, "High order embedded Runge–Kutta formulae", J. Comput. Appl. Math. 7 (1981), RK8(7)13M:
# the published coefficients are rational *approximations* (the order conditions hold to ~1e-16, not exactly)
_DOPRI8_A = [
    [], [_r(1, 18)], [_r(1, 48), _r(1, 16)], [_r(1, 32), 0.0, _r(3, 32)], [_r(5, 16), 0.0, _r(-75, 64), _r(75, 64)],
    [_r(3, 80), 0.0, 0.0, _r(3, 16), _r(3, 20)],
    [_r(29443841, 614563906), 0.0, 0.0, _r(77736538, 692538347), _r(-28693883, 1125000000),
     _r(23124283, 1800000000)],
    [_r(16016141, 946692911), 0.0, 0.0, _r(61564180, 158732637), _r(22789713, 633445777),
     _r(545815736, 2771057229), _r(-180193667, 1043307555)],
    [_r(39632708, 573591083), 0.0, 0.0, _r(-433636366, 683701615), _r(-421739975, 2616292301),
     _r(100302831, 723423059), _r(790204164, 839813087), _r(800635310, 3783071287)],
    [_r(246121993, 1340847787), 0.0, 0.0, _r(-37695042795, 15268766246), _r(-309121744, 1061227803),
     _r(-12992083, 490766935), _r(6005943493, 2108947869), _r(393006217, 1396673457), _r(123872331, 1001029789)],
    [_r(-1028468189, 846180014), 0.0, 0.0, _r(8478235783, 508512852), _r(1311729495, 1432422823),
     _r(-10304129995, 1701304382), _r(-48777925059, 3047939560), _r(15336726248, 1032824649),
     _r(-45442868181, 3398467696), _r(3065993473, 597172653)],
    [_r(185892177, 718116043), 0.0, 0.0, _r(-3185094517, 667107341), _r(-477755414, 1098053517),
     _r(-703635378, 230739211), _r(5731566787, 1027545527), _r(5232866602, 850066563),
     _r(-4093664535, 808688257), _r(3962137247, 1805957418), _r(65686358, 487910083)],
    [_r(403863854, 491063109), 0.0, 0.0, _r(-5068492393, 434740067), _r(-411421997, 543043805),
     _r(652783627, 914296604), _r(11173962825, 925320556), _r(-13158990841, 6184727034),
     _r(3936647629, 1978049680), _r(-160528059, 685178525), _r(248638103, 1413531060), 0.0]]
_DOPRI8_B = [_r(14005451, 335480064), 0.0, 0.0, 0.0, 0.0, _r(-59238493, 1068277825), _r(181606767, 758867731),
             _r(561292985, 797845732), _r(-1041891430, 1371343529), _r(760417239, 1151165299),
             _r(118820643, 751138087), _r(-528747749, 2220607170), _r(1, 4), 0.0]
_DOPRI8_BHAT = [_r(13451932, 455176623), 0.0, 0.0, 0.0, 0.0, _r(-808719846, 976000145), _r(1757004468, 5645159321),
                _r(656045339, 265891186), _r(-3867574721, 1518517206), _r(465885868, 322736535),
                _r(53011238, 667516719), _r(2, 45), 0.0, 0.0]
_DOPRI8_C = [0.0, _r(1, 18), _r(1, 12), _r(1, 8), _r(5, 16), _r(3, 8), _r(59, 400), _r(93, 200),
             _r(5490023248, 9719169821), _r(13, 20), _r(1201146811, 1299019798), 1.0, 1.0, 1.0]
# continuous extension of dopri8 (the midpoint weights torchdiffeq evaluates at θ = 1/2, here for every θ):
# b_i(θ) = Σ_k _DOPRI8_DENSE[i][k] θ^(k+1); stages 2–5 have b_i(θ) = 0
_DOPRI8_DENSE_ROWS = {
    0: [1.0, -6.6910181737837595697, 19.9990069333683970610, -30.0610568289666450593, 22.1396504998094068976,
        -6.3448349392860401388],
    5: [0.0, -7.6142658045872677172, 52.2273532792945524050, -121.4999627731334642623, 116.4422149550342161651,
        -39.6107919852202505218],
    6: [0.0, 10.7281392630428866124, -46.8919164181093621583, 83.1721004639847717481, -67.1451318825957197185,
        20.3761213808791436958],
    7: [0.0, 0.5526637063753648783, -0.1890893225010595467, 9.5724507555993664382, -16.5672243527496524646,
        7.3347098826795362023],
    8: [0.0, 4.2186562625665153803, -35.7075975946222072821, 87.8406057677205645007, -89.9916014847245016028,
        32.8801774352459155182],
    9: [0.0, -0.6627209125361597559, 6.2736448083240352160, -17.4152107770762969005, 22.6237489648532849093,
        -10.1588990526426760954],
    10: [0.0, -1.2636789001135462218, 10.3160881272450748458, -28.5903289514790976966, 32.2362340167355370113,
         -12.5401268098782561200],
    11: [0.0, 5.4106037898590422230, -34.7650769866611817349, 81.6630950584341412934, -82.1020315488359848644,
         29.5553001484516038033],
    12: [0.0, -7.0321379067945741781, 47.7457971078225540396, -114.9375291377009418170, 116.2662185791119533462,
         -41.7923486424390588923],
    13: [0.0, 2.3537586759714983486, -19.0082099341608028453, 50.2558364226176017553, -53.9020777466385396792,
         20.3006925822100825485]}
_DOPRI8_DENSE = [_DOPRI8_DENSE_ROWS.get(i, [0.0] * 6) for i in range(14)]


def _diff(x: list, y: list) -> list:
    return [u - v for u, v in zip(x, y, strict=True)]


TABLEAUX: dict[str, ButcherTableau] = {tab.name: tab for tab in [
    ButcherTableau("euler", 1, lower([[]]), [1], [0]),
    ButcherTableau("midpoint", 2, lower([[], [F(1, 2)]]), [0, 1], [0, F(1, 2)]),
    ButcherTableau("heun", 2, lower([[], [1]]), [F(1, 2), F(1, 2)], [0, 1]),
    ButcherTableau("ralston", 2, lower([[], [F(2, 3)]]), [F(1, 4), F(3, 4)], [0, F(2, 3)]),
    ButcherTableau("heun3", 3, lower([[], [F(1, 3)], [0, F(2, 3)]]), [F(1, 4), 0, F(3, 4)], [0, F(1, 3), F(2, 3)]),
    ButcherTableau("rk4", 4, lower([[], [F(1, 2)], [0, F(1, 2)], [0, 0, 1]]), [F(1, 6), F(1, 3), F(1, 3), F(1, 6)],
                   [0, F(1, 2), F(1, 2), 1]),
    # Kutta's 3/8 rule (torchdiffeq's "rk4")
    ButcherTableau("rk4_38", 4, lower([[], [F(1, 3)], [F(-1, 3), 1], [1, -1, 1]]),
                   [F(1, 8), F(3, 8), F(3, 8), F(1, 8)], [0, F(1, 3), F(2, 3), 1]),
    # Heun–Euler 2(1)
    ButcherTableau("adaptive_heun", 2, lower([[], [1]]), [F(1, 2), F(1, 2)], [0, 1],
                   error_weights=[F(1, 2), F(-1, 2)], error_order=1, c_mid=[F(1, 2), 0]),
    # Fehlberg's RKF2(1) (NASA TR R-315, 1969), propagating the second-order solution
    ButcherTableau("fehlberg2", 2, lower([[], [F(1, 2)], [F(1, 256), F(255, 256)]]),
                   [F(1, 512), F(255, 256), F(1, 512)], [0, F(1, 2), 1],
                   error_weights=[F(-1, 512), 0, F(1, 512)], error_order=1, c_mid=[0, F(1, 2), 0]),
    ButcherTableau("bosh3", 3, lower([[], [F(1, 2)], [0, F(3, 4)], _BOSH3_B[:3]]), _BOSH3_B,
                   [0, F(1, 2), F(3, 4), 1], error_weights=_diff(_BOSH3_B, _BOSH3_BHAT), error_order=2),
    ButcherTableau("dopri5", 5, lower([
        [], [F(1, 5)], [F(3, 40), F(9, 40)], [F(44, 45), F(-56, 15), F(32, 9)],
        [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
        [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)], _DOPRI5_B[:6]]),
        _DOPRI5_B, [0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1],
        error_weights=_diff(_DOPRI5_B, _DOPRI5_BHAT), error_order=4,
        c_mid=[F(6025192743, 30085553152) / 2, 0, F(51252292925, 65400821598) / 2,
               F(-2691868925, 45128329728) / 2, F(187940372067, 1594534317056) / 2,
               F(-1776094331, 19743644256) / 2, F(11237099, 235043384) / 2]),
    ButcherTableau("tsit5", 5, lower([
        [], [0.161], [-0.008480655492356989, 0.335480655492357],
        [2.897153057105493, -6.359448489975075, 4.3622954328695815],
        [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
        [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
        _TSIT5_B[:6]]),
        _TSIT5_B, [0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
        error_weights=_TSIT5_E, error_order=4, dense=_TSIT5_DENSE),
    ButcherTableau("dopri8", 8, lower([*_DOPRI8_A, _DOPRI8_B[:13]]), _DOPRI8_B, _DOPRI8_C,
                   error_weights=_diff(_DOPRI8_B, _DOPRI8_BHAT), error_order=7, dense=_DOPRI8_DENSE),
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
        # continuous extension b_i(θ) = Σ_j dense[i, j] θ^{j+1}: one row of stage weights per power of θ
        self._dense_rows = ([nonzero(col) for col in tableau.dense.T.tolist()] if tableau.dense is not None
                            else [])

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
        """Dense output: the tableau's continuous extension ``y0 + h Σ_i b_i(θ) k_i`` when it has one (tsit5,
        dopri8); else the quartic through ``y0, y(t+h/2), y1`` with end slopes when the tableau has a midpoint
        formula (Shampine 1986, dopri5); else the cubic Hermite interpolant of the base class."""
        shape = (-1,) + (1,) * (y0.dim() - 1)
        h = dt.to(y0.dtype).reshape(shape)
        x = theta.to(y0.dtype).reshape(shape)
        if self._dense_rows:
            acc = torch.zeros_like(y0)
            for row in reversed(self._dense_rows):  # Horner in θ over the per-power stage combinations
                acc = combine(row, interp, acc) * x
            return torch.addcmul(y0, h, acc)
        if not self._mid_row or f0 is None or f1 is None:
            return super().interpolate(theta, dt, y0, y1, f0, f1, interp)
        y_mid = torch.addcmul(y0, h, combine(self._mid_row, interp))
        # p(x) = y0 + x h f0 + c2 x² + c3 x³ + c4 x⁴ with p(1) = y1, p'(1) = h f1, p(1/2) = y_mid
        c4 = 2 * h * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid
        c3 = h * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid
        c2 = h * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid
        return y0 + x * (h * f0 + x * (c2 + x * (c3 + x * c4)))


register_tableaux(TABLEAUX.values(), ExplicitRK, "explicit")
