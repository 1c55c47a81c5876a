"""Jacobian regularisers as small ``nn.Module``s with a ``weight``.

Common call: ``reg(f, x, t=None) -> scalar`` (weighted). ``f(t, y)`` is a vector field in the
``pysciml.odeint`` convention (``t`` a ``[P]`` tensor, ``y`` ``[P, d]``). ``x`` holds the points where the
regulariser is evaluated: ``[B, d]`` or trajectories/windows ``[B, T, d]`` (flattened to ``B·T`` points);
``t`` is ``None`` (time 0), a scalar, ``[B]``, ``[T]`` or ``[B, T]``. :class:`JacobianFD` needs
trajectories ``[B, T, d]`` with ``T >= 3`` and their times.

Costs are stated per point, counting one vector-field evaluation with a tangent as one JVP and one
evaluation plus backward pass as one VJP.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..validation import check_choice, check_positive_int
from .jacobian import (
    as_times,
    jacobian_condition,
    jacobian_frobenius,
    jacobian_spectral,
    jvp,
    random_directions,
)

__all__ = [
    "Regularizer",
    "JacobianFrobenius",
    "JacobianSpectral",
    "JacobianCondition",
    "JacobianAD",
    "JacobianFD",
    "KineticEnergy",
    "flatten_points",
]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flatten_points(x: torch.Tensor, t: torch.Tensor | float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten ``x`` (``[B, d]`` or ``[B, T, d]``) to points ``[P, d]`` and ``t`` to times ``[P]``."""
    if not isinstance(x, torch.Tensor):
        raise InputTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.shape[-1] == 0:
        raise ValidationError(f"x must have shape [batch, dim] or [batch, time, dim] with dim >= 1, got "
                              f"{tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise InputTypeError(f"x must be a float32 or float64 tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValidationError("x contains NaN or Inf; regularisers need finite points")
    lead = x.shape[:-1]
    tt = torch.zeros((), dtype=x.dtype, device=x.device) if t is None else as_times(t, x)
    try:
        if x.ndim == 3 and tt.ndim == 1 and tt.shape[0] == x.shape[1]:
            tt = tt.expand(*lead)  # [T] shared grid (also when T == B)
        elif x.ndim == 3 and tt.ndim == 1:
            tt = tt[:, None].expand(*lead)
        else:
            tt = tt.expand(*lead)
    except RuntimeError as exc:
        raise ValidationError(f"t of shape {tuple(tt.shape)} does not match points x of shape "
                              f"{tuple(x.shape)}; pass a scalar, [batch], [time] or [batch, time]") from exc
    return x.reshape(-1, x.shape[-1]), tt.reshape(-1)


def _non_negative(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValidationError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Regularizer(nn.Module, ABC):
    """Base class: ``forward(f, x, t=None)`` returns ``weight * mean_points(per_point(f, x, t))``."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight < math.inf:
            raise ValidationError(f"weight must be a non-negative number, got {weight!r}")
        self.weight = float(weight)

    @abstractmethod
    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Unweighted value per point: ``x [P, d]``, ``t [P]`` -> ``[P]``."""

    def forward(self, f: Field, x: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        """Weighted mean of :meth:`per_point` over all points of ``x`` (scalar)."""
        pts, times = flatten_points(x, t)
        return self.weight * self.per_point(f, pts, times).mean()

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}"


class JacobianFrobenius(Regularizer):
    """``λ ‖∂f/∂y‖_F²`` (RNODE, Finlay et al. 2020) or ``λ ‖∂f/∂y‖_F`` (seed 000 eq. 6, ``squared=False``).

    Cost per point: ``estimator="exact"``: ``d`` JVPs; ``"hutchinson"``: ``n_samples`` JVPs
    (``mode="jvp"``) or VJPs (``mode="vjp"``), probes Gaussian or Rademacher from the global torch RNG.
    """

    def __init__(self, weight: float = 1.0, estimator: str = "hutchinson", n_samples: int = 1,
                 distribution: str = "gaussian", mode: str = "jvp", squared: bool = True) -> None:
        super().__init__(weight)
        self.estimator = check_choice(estimator, "estimator", ("exact", "hutchinson"))
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.distribution = check_choice(distribution, "distribution", ("gaussian", "rademacher"))
        self.mode = check_choice(mode, "mode", ("jvp", "vjp"))
        self.squared = bool(squared)

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sq = jacobian_frobenius(f, x, self.estimator, self.n_samples, self.distribution, self.mode, t=t)
        return sq if self.squared else sq.clamp_min(0).sqrt()


class JacobianSpectral(Regularizer):
    """``λ σ_max(∂f/∂y)`` (seed 000 eq. 6 with the spectral norm), by power iteration on ``JᵀJ``.

    Cost per point: ``iters`` JVP+VJP pairs without graph, plus one JVP (or VJP) with graph.
    """

    def __init__(self, weight: float = 1.0, iters: int = 20, mode: str = "jvp") -> None:
        super().__init__(weight)
        self.iters = check_positive_int(iters, "iters")
        self.mode = check_choice(mode, "mode", ("jvp", "vjp"))

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return jacobian_spectral(f, x, self.iters, self.mode, t=t)


class JacobianCondition(Regularizer):
    """``λ_c ‖κ(J) − 1‖²`` with ``κ = σ_max / (σ_min + 10⁻⁶)`` (Josias & Brink 2022, seed 000 eq. 7).

    Cost per point: ``method="exact"`` (default for ``d <= 64``): ``d`` JVPs plus an SVD of a ``d × d``
    matrix; ``"iterative"``: ``iters`` JVP+VJP pairs (σ_max) plus ``d`` JVPs, one LU and ``iters`` pairs of
    triangular solves (σ_min).
    """

    def __init__(self, weight: float = 0.5, eps: float = 1e-6, method: str = "auto", iters: int = 50) -> None:
        super().__init__(weight)
        self.eps = _non_negative(eps, "eps")
        self.method = check_choice(method, "method", ("auto", "exact", "iterative"))
        self.iters = check_positive_int(iters, "iters")

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        kappa = jacobian_condition(f, x, self.method, self.iters, t=t, eps=self.eps)
        return (kappa - 1.0).pow(2)


class JacobianAD(Regularizer):
    """``L_AD = mean_{v,points} ‖J_{F_θ − F}(x) v‖²`` against known dynamics ``F`` (Janvier et al. 2026,
    methods.md §9.1): a Hutchinson estimate of ``‖J_{F_θ} − J_F‖_F²`` with ``n_samples`` directions
    ``v ~ N(0, I)`` (or Rademacher); ``normalize=True`` uses unit directions (the estimate is then divided
    by ``d``). ``known`` is ``F(t, y)`` in the same convention as the model field.

    ``known_jvp(t, y, v) -> J_F(y) v`` (``y, v [P, d]``), when given, replaces forward-mode autodiff of ``F``
    (e.g. ``System.jvp_torch``, closed form for Kuramoto–Sivashinsky).

    Cost per point: ``n_samples`` JVPs of ``F_θ`` and of ``F`` (one batched forward-mode call each).
    """

    def __init__(self, known: Field, weight: float = 1.0, n_samples: int = 10, distribution: str = "gaussian",
                 normalize: bool = False,
                 known_jvp: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                 ) -> None:
        super().__init__(weight)
        if not callable(known):
            raise InputTypeError(f"known must be a callable F(t, y), got {type(known).__name__}")
        if known_jvp is not None and not callable(known_jvp):
            raise InputTypeError(f"known_jvp must be a callable J_F(t, y, v), got {type(known_jvp).__name__}")
        self.known = known
        self.known_jvp = known_jvp
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.distribution = check_choice(distribution, "distribution", ("gaussian", "rademacher"))
        self.normalize = bool(normalize)

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = random_directions((self.n_samples, *x.shape), self.distribution, dtype=x.dtype, device=x.device)
        if self.normalize:
            v = v / v.norm(dim=-1, keepdim=True)
        with torch.no_grad():
            if self.known_jvp is None:
                jv_known = jvp(self.known, x.detach(), v, t)
            else:
                jv_known = torch.stack([self.known_jvp(t, x.detach(), vk) for vk in v])
        return (jvp(f, x, v, t) - jv_known).pow(2).sum(-1).mean(0)


class JacobianFD(Regularizer):
    """``L_FD`` of Janvier et al. (2026) (methods.md §9.1): finite differences along data trajectories,
    no knowledge of ``F``. For trajectories ``x [B, T, d]`` with uniform spacing ``dt`` (per trajectory):

    * forward:  ``‖F_θ(x_{t+1}) − F_θ(x_t) − FD(t)‖² / (‖x_{t+1} − x_t‖² + eps)``
    * backward: ``‖F_θ(x_{t+2}) − F_θ(x_{t+1}) − FD(t)‖² / (‖x_{t+2} − x_{t+1}‖² + eps)``

    with ``FD(t) = (x_{t+2} − 2x_{t+1} + x_t)/dt`` and ``eps = 1e-8``,

    averaged over ``b`` and ``t = 0..T−3``. As ``dt → 0`` the summand tends to
    ``‖J_{F_θ − F}(x_t) F(x_t)‖² / ‖F(x_t)‖²`` (a directional ``L_AD`` term) with error ``O(dt)``.
    ``t`` (times) is required: ``[T]`` or ``[B, T]``; only its spacing is used (``f`` is evaluated at the
    data times). Cost per point: one evaluation of ``F_θ``.
    """

    def __init__(self, weight: float = 1.0, variant: str = "forward", eps: float = 1e-8) -> None:
        super().__init__(weight)
        self.variant = check_choice(variant, "variant", ("forward", "backward"))
        self.eps = _non_negative(eps, "eps")

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise ValidationError("JacobianFD needs whole trajectories: call it as reg(f, x [B, T, d], t)")

    def per_transition(self, f: Field, x: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        """Unweighted summand per ``(b, t)``, shape ``[B, T-2]``."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 3 or x.shape[1] < 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValidationError(f"JacobianFD needs trajectories x of shape [batch, time >= 3, dim], "
                                  f"got {shape}; use windows of length >= 3")
        if t is None:
            raise ValidationError("JacobianFD needs the times t ([time] or [batch, time]) of the "
                                  "trajectories")
        b, n_t, d = x.shape
        tt = as_times(t, x)
        tt = tt.expand(b, n_t) if tt.ndim == 1 and tt.shape[0] == n_t else tt
        if tt.shape != (b, n_t):
            raise ValidationError(f"t must have shape [{n_t}] or [{b}, {n_t}], got {tuple(tt.shape)}")
        steps = tt.diff(dim=1)
        dt = steps[:, :1]
        if torch.any((steps - dt).abs() > 1e-6 * dt.abs().clamp_min(1e-300)):
            raise ValidationError("JacobianFD needs uniformly spaced times along each trajectory")
        f_x = f(tt.reshape(-1), x.reshape(-1, d)).reshape(b, n_t, d)
        fd_data = (x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]) / dt[:, :, None]
        if self.variant == "forward":
            fd_model, dx = f_x[:, 1:-1] - f_x[:, :-2], x[:, 1:-1] - x[:, :-2]
        else:
            fd_model, dx = f_x[:, 2:] - f_x[:, 1:-1], x[:, 2:] - x[:, 1:-1]
        return (fd_model - fd_data).pow(2).sum(-1) / (dx.pow(2).sum(-1) + self.eps)

    def forward(self, f: Field, x: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        """Weighted mean of :meth:`per_transition` (scalar)."""
        return self.weight * self.per_transition(f, x, t).mean()


class KineticEnergy(Regularizer):
    """RNODE kinetic term ``λ ‖f(t, x)‖²`` (Finlay et al. 2020). Cost per point: one evaluation of ``f``."""

    def per_point(self, f: Field, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return f(t, x).pow(2).sum(-1)
