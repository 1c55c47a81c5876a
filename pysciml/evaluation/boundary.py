"""Distance to the decision boundary by growing spheres (Josias & Brink, "Jacobian Norm Regularisation and
Conditioning in Neural ODEs", SACAIR 2022, §3 and Fig. 8).

For a point ``x`` with predicted class ``c``, ``K`` directions ``u_k`` are drawn uniformly on the unit sphere of
the input space; the sphere of radius ``r`` is *consistent* when every ``x + r u_k`` is still classified ``c``.
A linear search over growing radii ``r_1 < r_2 < …`` finds the first inconsistent sphere, and a binary search
on the radius between the last consistent and the first inconsistent one narrows the bracket ``[lo, hi]`` to
``hi − lo ≤ rtol · hi``. ``distance = lo`` is the largest radius found with consistent labels.

Estimator bias. With the same ``K`` directions at every radius, the search returns (up to ``rtol``) the
smallest distance along the sampled rays, ``min_k t_k``, which is never below the true distance ``D`` and is
above it whenever no direction points exactly at the nearest boundary point. For a boundary that is flat on
the scale of ``D`` (e.g. a linear classifier) ``min_k t_k = D / max_k cos θ_k``, ``θ_k`` the angle between
``u_k`` and the normal: the relative overestimate ``1/max cos − 1`` shrinks with ``K`` and grows with the
dimension; :func:`sphere_search_bias` gives its quantiles. So ``upper ≥ D`` always, ``distance ≥ (1 − rtol) D``,
and ``distance ≤ D (1 + η)`` with the probability that the quantile ``η`` is computed for (tested on linear
classifiers: with ``K = 64`` directions in 2-D the largest overestimate over 60 points was 2 %, with ``K = 400``
in 5-D 17 %). The binary search also assumes that the labels
along each ray change only once inside the bracket; a thin sliver of another class between two grid radii can
be missed (refine the grid with ``radii=`` / ``n_radii=``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import betainc
from torch import nn

from ..errors import ValidationError
from ..validation import check_positive_int
from ._classifier import check_inputs, check_levels, evaluating, predict

__all__ = ["BoundaryDistances", "decision_boundary_distance", "sphere_search_bias"]


@dataclass
class BoundaryDistances:
    """Per-point result of :func:`decision_boundary_distance` (``n`` points, tensors on the CPU).

    ``distance [n]``: largest radius found with consistent labels (``radii[-1]`` when ``censored``);
    ``upper [n]``: smallest radius found with a label change (``inf`` when censored); ``direction [n, ...]``:
    the unit direction whose point changed label at ``upper`` (NaN when censored); ``predicted [n]``;
    ``correct [n]`` (``None`` without labels); ``censored [n]``: no label change up to the largest radius.
    """

    distance: torch.Tensor
    upper: torch.Tensor
    direction: torch.Tensor
    predicted: torch.Tensor
    correct: torch.Tensor | None
    censored: torch.Tensor
    n_directions: int
    radii: np.ndarray
    rtol: float
    meta: dict[str, Any] = field(default_factory=dict)

    def selected(self, only_correct: bool = True) -> np.ndarray:
        """The distances of the correctly classified points (all points without labels or when ``False``)."""
        d = self.distance.numpy()
        return d[self.correct.numpy()] if only_correct and self.correct is not None else d

    def summary(self, only_correct: bool = True) -> dict[str, float]:
        """Count, mean, std, min, quartiles, max and number censored over :meth:`selected` points."""
        d = self.selected(only_correct)
        cens = self.censored.numpy()
        if only_correct and self.correct is not None:
            cens = cens[self.correct.numpy()]
        if d.size == 0:
            return {"n": 0, "n_censored": 0}
        q1, med, q3 = np.quantile(d, [0.25, 0.5, 0.75])
        return {"n": int(d.size), "mean": float(d.mean()), "std": float(d.std(ddof=1)) if d.size > 1 else 0.0,
                "min": float(d.min()), "q1": float(q1), "median": float(med), "q3": float(q3),
                "max": float(d.max()), "n_censored": int(cens.sum())}

    def to_dict(self, only_correct: bool = True) -> dict[str, Any]:
        """JSON-ready: summary, settings and the per-point distances, brackets and flags."""
        return {"summary": self.summary(only_correct), "only_correct": only_correct,
                "n_directions": self.n_directions, "radii": self.radii.tolist(), "rtol": self.rtol,
                "distance": self.distance.tolist(),
                "upper": [None if math.isinf(u) else u for u in self.upper.tolist()],
                "predicted": self.predicted.tolist(),
                "correct": None if self.correct is None else self.correct.tolist(),
                "censored": self.censored.tolist(), **self.meta}


def sphere_search_bias(dim: int, n_directions: int, confidence: float = 0.95) -> float:
    """Relative overestimate ``η`` of the sphere search for a flat boundary: ``P(r̂ ≤ D (1 + η)) = confidence``.

    ``r̂ = D / max_k cos θ_k`` with ``K = n_directions`` uniform directions in ``R^dim``; a direction has
    ``cos θ ≥ c`` with probability ``A(c) = ½ I_{1−c²}((dim−1)/2, ½)`` (spherical cap), so
    ``P(max_k cos θ_k ≥ c) = 1 − (1 − A(c))^K``. Excludes the binary search's ``rtol``.
    """
    dim = check_positive_int(dim, "dim", minimum=2)
    k = check_positive_int(n_directions, "n_directions")
    if not 0 < confidence < 1:
        raise ValidationError(f"confidence must be in (0, 1), got {confidence!r}")
    target = 1.0 - (1.0 - confidence) ** (1.0 / k)  # cap fraction one direction must fall into
    if target >= 0.5:
        raise ValidationError(f"with {k} directions the search reaches the boundary side with probability below "
                              f"{confidence}: increase n_directions")

    def cap(c: float) -> float:
        return 0.5 * float(betainc((dim - 1) / 2, 0.5, 1 - c * c)) - target

    c = brentq(cap, 0.0, 1.0, xtol=1e-15, rtol=1e-14) if target > 0 else 1.0
    return 1.0 / c - 1.0


def _default_radii(x: torch.Tensor, n_radii: int) -> np.ndarray:
    flat = x.flatten(1)
    span = float((flat - flat.mean(0)).norm(dim=1).max()) * 2 or 1.0
    return span * np.arange(1, n_radii + 1) / n_radii


def _unit_directions(n: int, k: int, shape: torch.Size, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    u = torch.randn((n, k, *shape), generator=gen, dtype=x.dtype, device=x.device)
    return u / u.flatten(2).norm(dim=2).reshape(n, k, *([1] * len(shape)))


def _changed(model: nn.Module, x: torch.Tensor, u: torch.Tensor, r: torch.Tensor, c: torch.Tensor,
             batch_size: int) -> torch.Tensor:
    """``[P, K]`` mask: the label of ``x_p + r_p u_pk`` differs from ``c_p``."""
    p, k = u.shape[:2]
    pts = x[:, None] + r.reshape(p, 1, *([1] * (x.ndim - 1))) * u
    labels = predict(model, pts.reshape(p * k, *x.shape[1:]), None, batch_size).reshape(p, k)
    return labels != c[:, None]


def decision_boundary_distance(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *,
                               n_directions: int = 100, radii: Any = None, n_radii: int = 16,
                               rtol: float = 1e-3, seed: int = 0, batch_size: int = 8192) -> BoundaryDistances:
    """Distance from each row of ``x [n, ...]`` to the model's decision boundary (see the module docstring).

    Args:
        model: classifier ``x [n, ...] → logits [n, C]`` (dtype and device of ``x``).
        x: points; y: optional labels ``[n]`` (marks the correctly classified points for :meth:`summary`).
        n_directions: ``K`` random directions per point (the same at every radius).
        radii: increasing radii of the linear search (input units); default ``n_radii`` equally spaced up to
            twice the largest distance of a point from the mean of ``x``.
        rtol: relative width ``(hi − lo)/hi`` at which the binary search stops.
        seed: seeds the directions (drawn point chunk by point chunk; the chunks follow ``batch_size``).
        batch_size: model evaluations per forward pass (``points per chunk = max(1, batch_size // K)``).
    """
    x, y = check_inputs(model, x, y)
    k = check_positive_int(n_directions, "n_directions")
    batch_size = check_positive_int(batch_size, "batch_size")
    rtol = float(rtol)
    if not 0 < rtol < 1:
        raise ValidationError(f"rtol must be in (0, 1), got {rtol!r}")
    grid = _default_radii(x, check_positive_int(n_radii, "n_radii")) if radii is None else check_levels(radii, "radii")
    if np.any(np.diff(grid) <= 0) or grid[0] <= 0:
        raise ValidationError(f"radii must be positive and strictly increasing, got {grid.tolist()}")
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    n, chunk = x.shape[0], max(1, batch_size // k)
    lo = torch.zeros(n, dtype=x.dtype, device=x.device)
    hi = torch.full((n,), math.inf, dtype=x.dtype, device=x.device)
    direction = torch.full_like(x, math.nan)
    with evaluating(model):
        pred = predict(model, x, y, batch_size)
        for start in range(0, n, chunk):
            sl = slice(start, min(n, start + chunk))
            xs, cs = x[sl], pred[sl]
            u = _unit_directions(xs.shape[0], k, x.shape[1:], x, gen)
            lo_s, hi_s, dir_s = lo[sl], hi[sl], direction[sl]
            active = torch.ones(xs.shape[0], dtype=torch.bool, device=x.device)
            for r in grid:  # linear search over growing spheres
                idx = active.nonzero().squeeze(1)
                if idx.numel() == 0:
                    break
                r_t = torch.full((idx.numel(),), float(r), dtype=x.dtype, device=x.device)
                changed = _changed(model, xs[idx], u[idx], r_t, cs[idx], batch_size)
                hit = changed.any(1)
                lo_s[idx[~hit]] = float(r)
                hi_s[idx[hit]] = float(r)
                dir_s[idx[hit]] = u[idx[hit], changed[hit].int().argmax(1)]
                active[idx[hit]] = False
            while True:  # binary search on the radius inside each bracket
                idx = (torch.isfinite(hi_s) & (hi_s - lo_s > rtol * hi_s)).nonzero().squeeze(1)
                if idx.numel() == 0:
                    break
                mid = 0.5 * (lo_s[idx] + hi_s[idx])
                changed = _changed(model, xs[idx], u[idx], mid, cs[idx], batch_size)
                hit = changed.any(1)
                lo_s[idx[~hit]] = mid[~hit]
                hi_s[idx[hit]] = mid[hit]
                dir_s[idx[hit]] = u[idx[hit], changed[hit].int().argmax(1)]
    correct = None if y is None else (pred == y).cpu()
    return BoundaryDistances(lo.cpu(), hi.cpu(), direction.cpu(), pred.cpu(), correct, torch.isinf(hi).cpu(), k,
                             np.asarray(grid), rtol)
