"""Long-rollout metrics of a learned dynamical system against ground-truth test trajectories.

Definitions (Janvier, Salomon, Meunier, "Jacobian Regularization Stabilizes Long-Term Integration of Neural
Differential Equations", arXiv:2602.04608, §2.1 and §4), for test trajectories ``x_j(t_i)``, ``j = 1..n``,
``i = 0..N``, and the model's rollouts ``x̃_{θ,j}(t_i)`` from the same initial states:

* relative error ``R_e(θ, t_i)_j = ‖x̃_{θ,j}(t_i) − x_j(t_i)‖₂ / ‖x_j(t_i)‖₂`` per trajectory, with its mean,
  median and quantiles over the trajectories (their Fig. 1);
* trajectory loss, sum convention of their eq. 2: ``L_traj = Σ_j Σ_{i=0}^{N} ‖x_j(t_i) − x̃_{θ,j}(t_i)‖₂²``, and
  its mean ``L_traj / (n (N + 1) d)`` (the per-component MSE the rollout trainer minimises);
* time to divergence: the first ``t_i`` where ``R_e`` exceeds ``threshold`` or the rollout is non-finite;
* final-error distribution: ``R_e(θ, t_N)_j`` over the trajectories (their Fig. 1, right);
* conservation errors of the system's invariants along the rollouts (:mod:`.conservation`, their App. C).

Non-finite rollouts are never averaged into a silent NaN: ``R_e`` of a blown-up trajectory is ``+inf`` from the
first non-finite time on; means are taken over the finite trajectories and state how many those are, and
quantiles are order statistics in which a blown-up trajectory counts as ``+inf``.
The rollout runs in chunks of ``chunk_size`` steps under ``torch.no_grad()`` (:mod:`._propagate`): memory does
not depend on the horizon except for the ``[n, N + 1]`` error curves kept (and the states if ``keep_states``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np
import torch

from ..errors import InputTypeError, ValidationError
from ..systems import System
from ..systems import get as get_system
from ..validation import check_positive_int
from ._propagate import make_propagator, model_device, model_dtype
from .conservation import ConservationError, InvariantTracker

__all__ = ["QUANTILES", "RolloutEvaluation", "TrajectoryLoss", "evaluate_rollout", "jsonable", "order_quantiles",
           "relative_error", "rollout", "system_from_meta", "time_to_divergence", "trajectory_loss"]

#: Quantile levels reported for ``R_e`` curves and final errors.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def relative_error(pred: Any, truth: Any) -> np.ndarray:
    """``‖pred − truth‖₂ / ‖truth‖₂`` over the last axis (``[..., d] -> [...]``); non-finite → ``+inf``."""
    p, x = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != x.shape:
        raise ValidationError(f"pred and truth must have the same shape, got {p.shape} and {x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        num, den = np.linalg.norm(p - x, axis=-1), np.linalg.norm(x, axis=-1)
        r = np.divide(num, den, out=np.full_like(num, np.inf), where=den > 0)
    r = np.where(num == 0, 0.0, r)
    return np.where(np.isfinite(r), r, np.inf)


@dataclasses.dataclass(frozen=True)
class TrajectoryLoss:
    """``total`` = seed 001 eq. 2 (sum over trajectories, times, components of squared errors), ``mean`` = total
    / (n (N+1) d); ``*_finite`` over the ``n - n_nonfinite`` finite rollouts only (``inf`` totals otherwise)."""

    total: float
    mean: float
    total_finite: float
    mean_finite: float
    n_nonfinite: int


def trajectory_loss(pred: Any, truth: Any) -> TrajectoryLoss:
    """:class:`TrajectoryLoss` of rollouts ``pred [n, N+1, d]`` against ``truth`` (same shape)."""
    p, x = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != x.shape or p.ndim != 3:
        raise ValidationError(f"pred and truth must both be [n, N+1, d], got {p.shape} and {x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        per = ((p - x) ** 2).sum(axis=(1, 2))
    return _loss_from_sums(per, p.shape[1] * p.shape[2])


def _loss_from_sums(per_traj: np.ndarray, count: int) -> TrajectoryLoss:
    finite = np.isfinite(per_traj)
    total = float(per_traj.sum()) if finite.all() else math.inf
    tf = float(per_traj[finite].sum())
    n_fin = int(finite.sum())
    return TrajectoryLoss(total, total / (per_traj.size * count), tf, tf / (n_fin * count) if n_fin else math.nan,
                          int(per_traj.size - n_fin))


def time_to_divergence(rel_error: Any, t: Any, threshold: float) -> np.ndarray:
    """First time ``t_i`` at which ``rel_error [n, T]`` exceeds ``threshold`` (or is non-finite), per trajectory
    ``[n]``; NaN for a trajectory that never does."""
    r, tt = np.asarray(rel_error, dtype=np.float64), np.asarray(t, dtype=np.float64)
    if r.ndim != 2 or tt.shape != (r.shape[1],):
        raise ValidationError(f"rel_error must be [n, T] and t [T], got {r.shape} and {tt.shape}")
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValidationError(f"threshold must be a finite relative error > 0, got {threshold!r}")
    bad = ~(r <= threshold)
    first = bad.argmax(axis=1)
    return np.where(bad.any(axis=1), tt[first], np.nan)


def order_quantiles(values: Any, levels: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Quantiles over axis 0 as order statistics (no interpolation), NaN counted as ``+inf``: ``[len(levels), ...]``."""
    v = np.asarray(values, dtype=np.float64)
    return np.quantile(np.where(np.isnan(v), np.inf, v), levels, axis=0, method="inverted_cdf")


def system_from_meta(meta: dict[str, Any]) -> System | None:
    """The catalogue system a dataset was generated from (``meta["system"]``, ``meta["system_params"]``), or None."""
    name = meta.get("system")
    if not name:
        return None
    return get_system(str(name), **dict(meta.get("system_params") or {}))


def _as_data(data: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    if isinstance(data, (str, os.PathLike)):
        from ..data import load_dataset

        data = load_dataset(data)
    if hasattr(data, "t") and hasattr(data, "y"):
        meta = dict(getattr(data, "meta", {}))
        return np.asarray(data.t, dtype=np.float64), np.asarray(data.y, dtype=np.float64), meta
    if isinstance(data, tuple) and len(data) == 2:
        return np.asarray(data[0], dtype=np.float64), np.asarray(data[1], dtype=np.float64), {}
    raise InputTypeError(f"data must be a pysciml.data.TrajectoryData, the path of a pysciml HDF5 dataset or a tuple "
                         f"(t [T], y [n, T, d]), got "
                         f"{type(data).__name__}")


def _check_data(t: np.ndarray, y: np.ndarray, horizon: int | None, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    if y.ndim != 3 or t.ndim != 1 or y.shape[1] != t.size:
        raise ValidationError(f"test data must be t [T] and y [n, T, d], got t {t.shape} and y {y.shape}")
    if dim is not None and y.shape[2] != dim:
        raise ValidationError(f"test data has state dimension {y.shape[2]} but the model/system has {dim}; "
                              "evaluate on data of the system the model was trained on")
    if horizon is not None:
        horizon = check_positive_int(horizon, "horizon")
        if horizon > t.size - 1:
            raise ValidationError(f"horizon={horizon} steps is longer than the test data ({t.size - 1} steps after "
                                  f"t_0); pass horizon <= {t.size - 1} or generate longer test trajectories")
        t, y = t[:horizon + 1], y[:, :horizon + 1]
    if t.size < 2:
        raise ValidationError("test data must hold at least two times")
    if not np.all(np.isfinite(y)):
        bad = int((~np.all(np.isfinite(y), axis=(1, 2))).sum())
        raise ValidationError(f"test data has non-finite states in {bad} trajectories (failed ground-truth solves?); "
                              "drop them first, e.g. data.successful()")
    return t, y


def _solver_options(prop_kind: str, method: str, t: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
    """Default the fixed step to the data spacing for fixed-step methods of field models."""
    if prop_kind != "field" or "step_size" in options:
        return options
    from ..integrators.registry import make_stepper

    if make_stepper(method).adaptive:
        return options
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-9, atol=0.0):
        raise ValidationError(f"method {method!r} steps with a fixed step but the data grid is not uniform; "
                              "pass step_size=")
    return {**options, "step_size": float(dt[0])}


def rollout(model: Any, y0: torch.Tensor, t: Any, *, method: str | None = None, chunk_size: int | None = None,
            kind: str = "auto", progress: bool = False, **solver_options: Any) -> torch.Tensor:
    """Roll ``model`` out from ``y0 [B, d]`` over ``t [T]`` in chunks, without graphs → ``[B, T, d]``.

    ``model``: vector field ``f(t, y)`` (any :func:`pysciml.odeint` ``method``, ``solver_options`` such as
    ``step_size``), rollout model ``forward(y0, t)`` or structure-preserving model (see
    :class:`~pysciml.evaluation._propagate.Propagator`). Blown-up rows are NaN from their first non-finite time.
    """
    tt = torch.as_tensor(t, dtype=torch.float64)
    if not isinstance(y0, torch.Tensor) or y0.ndim != 2:
        raise ValidationError(f"y0 must be a tensor [batch, dim], got {getattr(y0, 'shape', type(y0).__name__)}")
    prop = make_propagator(model, kind=kind, method=method, **solver_options)
    return torch.cat([ys for _, ys in prop.chunks(y0, tt, chunk_size, progress)], dim=1)


@dataclasses.dataclass
class RolloutEvaluation:
    """Per-trajectory results of :func:`evaluate_rollout` (numpy, float64).

    Attributes:
        t: times ``[T]``; rel_error: ``R_e [n, T]`` (``+inf`` once non-finite); sq_error: ``Σ_i ‖·‖₂²`` per
        trajectory ``[n]``; divergence_time: ``[n]`` (NaN = never); threshold: the divergence threshold on ``R_e``;
        dim: ``d``; conservation: ``{invariant: ConservationError}``; states: the rollouts ``[n, T, d]`` if kept.
    """

    t: np.ndarray
    rel_error: np.ndarray
    sq_error: np.ndarray
    divergence_time: np.ndarray
    threshold: float
    dim: int
    conservation: dict[str, ConservationError]
    states: np.ndarray | None = None

    @property
    def loss(self) -> TrajectoryLoss:
        """Trajectory loss (seed 001 eq. 2, and the mean)."""
        return _loss_from_sums(self.sq_error, self.t.size * self.dim)

    @property
    def final_error(self) -> np.ndarray:
        """``R_e(θ, t_N)`` per trajectory ``[n]``."""
        return self.rel_error[:, -1]

    def curve(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Mean over finite trajectories, their count, and :data:`QUANTILES` of ``values [n, T]`` (per time)."""
        finite = np.isfinite(values)
        n_fin = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(finite, values, 0.0).sum(axis=0) / n_fin
        out = {"mean_finite": mean, "n_finite": n_fin}
        for q, v in zip(QUANTILES, order_quantiles(values), strict=True):
            out[f"q{round(100 * q):02d}"] = v
        return out

    def summary(self, max_points: int = 1000) -> dict[str, Any]:
        """JSON-ready summary; curves subsampled to at most ``max_points`` times.

        Non-finite numbers become ``None``: in a quantile or ``R_e`` value it means ``+inf`` (a blown-up
        trajectory), in ``divergence.time_per_trajectory`` it means "never diverged".
        """
        idx = np.unique(np.linspace(0, self.t.size - 1, min(max_points, self.t.size)).round().astype(int))
        loss = self.loss
        div = self.divergence_time
        final = self.final_error
        fq = order_quantiles(final[:, None])[:, 0]
        finite_final = final[np.isfinite(final)]
        out: dict[str, Any] = {
            "n_trajectories": int(self.rel_error.shape[0]), "n_steps": int(self.t.size - 1), "dim": self.dim,
            "t0": float(self.t[0]), "t_final": float(self.t[-1]),
            "relative_error": {"t": self.t[idx], **{k: v[idx] for k, v in self.curve(self.rel_error).items()}},
            "final_relative_error": {"per_trajectory": final,
                                     **{f"q{round(100 * q):02d}": v for q, v in zip(QUANTILES, fq, strict=True)},
                                     "mean_finite": float(finite_final.mean()) if finite_final.size else None},
            "trajectory_loss": dataclasses.asdict(loss),
            "divergence": {"threshold": self.threshold, "n_diverged": int(np.isfinite(div).sum()),
                           "n_nonfinite": int((~np.isfinite(self.rel_error[:, -1])).sum()),
                           "time_per_trajectory": div,
                           "first": float(np.nanmin(div)) if np.isfinite(div).any() else None},
            "conservation": {},
        }
        for name, ce in self.conservation.items():
            curve = self.curve(ce.error)
            out["conservation"][name] = {"kind": ce.kind, "t": self.t[idx], **{k: v[idx] for k, v in curve.items()},
                                         "final_per_trajectory": ce.error[:, -1]}
        return jsonable(out)


def jsonable(value: Any) -> Any:
    """Nested dicts/lists/arrays/numbers as JSON values; non-finite floats become ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def evaluate_rollout(model: Any, data: Any, *, system: System | str | None = None, horizon: int | None = None,
                     method: str | None = None, chunk_size: int | None = 1000, threshold: float = 1.0,
                     keep_states: bool = False, kind: str = "auto", dtype: torch.dtype | None = None,
                     progress: bool = False, invariant_floor: float = 1e-12,
                     **solver_options: Any) -> RolloutEvaluation:
    """Roll ``model`` out from the initial states of ``data`` and compare with it (seed 001 §4 metrics).

    Args:
        model: vector field ``f(t, y)``, rollout model ``forward(y0, t)`` or structure-preserving model.
        data: :class:`pysciml.data.TrajectoryData`, the path of a pysciml HDF5 dataset, or ``(t [T], y [n, T, d])``
            (ground truth, finite everywhere).
        system: the true system, for conservation errors (default: from ``data.meta``; ``None``: skipped).
        horizon: number of time steps of the data grid to roll out (default: all); longer than the data →
            :class:`~pysciml.errors.ValidationError`.
        method: ``odeint`` method (fields default to ``rk4`` with ``step_size`` = the data spacing).
        chunk_size: time steps per ``odeint`` call (``None``: one call); memory is flat in the horizon.
        threshold: ``R_e`` above which a trajectory counts as diverged.
        keep_states: also return the rollouts ``[n, T, d]`` (memory then grows with the horizon).
        dtype: dtype of the rollout (default: the model's parameter dtype, float64 for parameter-free models).
        progress: tqdm bar over the time steps.
        invariant_floor: see :func:`~pysciml.evaluation.conservation.conservation_errors`.
        solver_options: forwarded to :func:`pysciml.odeint` (``step_size``, ``rtol``, ``atol``, ...).
    """
    t, y, meta = _as_data(data)
    if isinstance(system, str):
        system = get_system(system)
    if system is None:
        system = system_from_meta(meta)
    t, y = _check_data(t, y, horizon, None if system is None else system.dim)
    if not (math.isfinite(float(threshold)) and float(threshold) > 0):
        raise ValidationError(f"threshold must be a finite relative error > 0, got {threshold!r}")
    dtype = dtype or model_dtype(model)
    prop = make_propagator(model, kind=kind, method=method, **solver_options)
    prop.options = _solver_options(prop.kind, prop.method, t, prop.options)
    n, n_t, d = y.shape
    tracker = InvariantTracker(system, n_t, invariant_floor) if system is not None else None
    rel = np.empty((n, n_t))
    sq = np.zeros(n)
    states = np.empty_like(y) if keep_states else None
    y0 = torch.as_tensor(y[:, 0], dtype=dtype, device=model_device(model))
    for a, ys in prop.chunks(y0, torch.as_tensor(t, device=y0.device), chunk_size, progress):
        pred = ys.detach().to(torch.float64).cpu().numpy()
        if pred.shape[2] != d:
            raise ValidationError(f"the model returns states of dimension {pred.shape[2]}, the data has {d}")
        b = a + pred.shape[1]
        truth = y[:, a:b]
        rel[:, a:b] = relative_error(pred, truth)
        with np.errstate(over="ignore", invalid="ignore"):
            chunk_sq = ((pred - truth) ** 2).sum(axis=(1, 2))
        sq += np.where(np.isfinite(chunk_sq), chunk_sq, np.inf)
        if tracker is not None:
            tracker.update(pred)
        if states is not None:
            states[:, a:b] = pred
    # a trajectory that blew up stays diverged even if a later state is finite again (e.g. a rollout model)
    rel = np.where(np.maximum.accumulate(~np.isfinite(rel), axis=1), np.inf, rel)
    return RolloutEvaluation(t, rel, sq, time_to_divergence(rel, t, float(threshold)), float(threshold), d,
                             tracker.result() if tracker is not None else {}, states)
