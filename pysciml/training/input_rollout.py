"""Input-driven fields ``f(t, x, u)`` through a solver: rollouts, their MSE, and the BKPR / ADJ baselines.

The baselines of Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural ODEs for
System Identification" (ICLR 2020, arXiv:1906.07038), Tables 1–2: the surrogate is trained by backpropagation
through an explicit solver ("BKPR-Euler" with the step equal to the sampling time, "BKPR-DoPr5" with
``rtol = 1e-7, atol = 1e-9``) or by the continuous adjoint ("ADJ-…"), on whole trajectories (one full batch
per iteration) with the loss ``L = mean_{batch, time, state} (x̂(t_k) − y_k)²`` of the rollout ``x̂`` from the
true initial states.

* :func:`simulate_with_inputs`: ground truth of a catalogue system whose input lives in an exosystem (``vehicle``,
  ``multi_agent``): the body states ``[B, T, n]`` and the per-trajectory input series ``u(t)``.
* :func:`rollout_with_input`: the surrogate's trajectories ``[B, T, n]``; ``lockstep=True`` integrates the batch
  as one system (one step size and error norm for the whole batch, as torchdiffeq does, which is how the paper's
  baselines ran); ``lockstep=False`` lets ``pysciml.odeint`` control each sample.
* :func:`rollout_mse`: the MSE of a rollout against data, ``inf`` when the solve fails or diverges.
* :class:`InputRolloutTrainer`: the baseline as a :class:`~pysciml.training.base.Trainer` (an epoch is one
  iteration on the full batch; callbacks, checkpoints and resume as for every trainer); a failed solve ends the
  run with ``TrainResult.status == "diverged"`` (the paper's "Fail").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..models.snet_surrogates import with_input
from ..validation import check_positive_int
from .base import Trainer, TrainingDiverged

__all__ = ["InputRolloutTrainer", "rollout_mse", "rollout_with_input", "simulate_with_inputs"]

DOPRI5_TOLERANCES = {"rtol": 1e-7, "atol": 1e-9}


def simulate_with_inputs(system: Any, n: int, t: torch.Tensor, seed: int, **options: Any) -> tuple[Any, Any]:
    """True trajectories of ``n`` random initial states of ``system`` at times ``t [T]`` and their inputs.

    ``system`` is a catalogue system with an input exosystem (``system.exo``, ``input_series``); it is solved in
    its augmented autonomous form by :func:`pysciml.odeint` with ``options`` (default: per-sample dopri5 at
    ``rtol = 1e-10, atol = 1e-12``). Returns the body states ``[n, T, dim − exo.dim]`` and the
    :class:`~pysciml.systems._fourier_input.FourierSeries` of the inputs.
    """
    from ..integrators import odeint

    if not hasattr(system, "exo") or not hasattr(system, "input_series"):
        raise InputTypeError(f"system must have an input exosystem (vehicle, multi_agent), got {type(system).__name__}")
    options = {"rtol": 1e-10, "atol": 1e-12, "max_steps": 200_000, **options}
    y0 = torch.as_tensor(system.initial_conditions(n, seed))
    sol = odeint(lambda tt, y: system.rhs_torch(tt, y), y0, t, **options)
    if not bool(sol.success.all()) or not bool(torch.isfinite(sol.ys).all()):
        raise ValidationError(f"the ground-truth solve of {system.name} failed ({sol}); change the solver options")
    n_body = system.dim - system.exo.dim
    return sol.ys[..., :n_body].contiguous(), system.input_series(y0)


class _Lockstep(nn.Module):
    """The batch as one ODE system ``[1, B·m]``: one step size and one error norm for the whole batch."""

    def __init__(self, field: nn.Module, batch: int) -> None:
        super().__init__()
        self.field, self.batch = field, batch

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.field(t.expand(self.batch), z.reshape(self.batch, -1)).reshape(1, -1)


def rollout_with_input(field: nn.Module, series: Any, x0: torch.Tensor, t: torch.Tensor, method: str = "dopri5",
                       adjoint: bool = False, lockstep: bool = True, **options: Any) -> torch.Tensor:
    """Trajectories ``[B, T, n]`` of ``x' = field(t, x, series(t))`` from ``x0 [B, n]`` at times ``t [T]``.

    ``series`` maps ``t [B]`` to the inputs ``[B, n_u]`` and has ``select(index)`` (a
    :class:`~pysciml.systems._fourier_input.FourierSeries`). dopri5 defaults to ``rtol = 1e-7, atol = 1e-9``;
    ``options`` go to :func:`pysciml.odeint` (``step_size`` for Euler, ``max_steps``, ...). Raises
    :class:`ValidationError` when the solve does not reach the last time.
    """
    from ..integrators import odeint

    if not isinstance(x0, torch.Tensor) or x0.dim() != 2:
        raise ValidationError(f"x0 must be a tensor [batch, state], got "
                              f"{tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__}")
    if method == "dopri5":
        options = {**DOPRI5_TOLERANCES, **options}
    z0 = with_input.augment(x0)
    func: nn.Module = with_input(field, series)
    if lockstep:
        func, z0 = _Lockstep(func, x0.shape[0]), z0.reshape(1, -1)
    sol = odeint(func, z0, t, method=method, adjoint=adjoint, **options)
    if not bool(sol.success.all()):
        raise ValidationError(f"the {method} rollout did not reach t = {float(t[-1]):g} ({sol})")
    ys = sol.ys.reshape(t.numel(), x0.shape[0], -1).transpose(0, 1) if lockstep else sol.ys
    return ys[..., :-1]


def rollout_mse(field: nn.Module, series: Any, y: torch.Tensor, t: torch.Tensor, **options: Any) -> float:
    """MSE of the rollout from ``y[:, 0]`` against ``y [B, T, n]`` (dopri5 by default); ``inf`` if it fails."""
    try:
        with torch.no_grad():
            pred = rollout_with_input(field, series, y[:, 0], t, **{"max_steps": 20_000, **options})
        out = float((pred - y).pow(2).mean())
    except (RuntimeError, ValueError):
        return math.inf
    return out if math.isfinite(out) else math.inf


class InputRolloutTrainer(Trainer):
    """Backprop through a solver (``adjoint=False``, BKPR) or the adjoint (ADJ) on whole input-driven trajectories.

    Args:
        model: field ``f(t [P], x [P, n], u [P, n_u]) -> [P, n]`` (e.g. :class:`pysciml.models.VehicleSurrogate`).
        t: sample times ``[T]``; y: data ``[B, T, n]``; series: the inputs of the ``B`` trajectories.
        method: solver (``"euler"`` steps at the sampling interval unless ``solver_options`` sets
            ``step_size``; ``"dopri5"`` at ``rtol = 1e-7, atol = 1e-9`` unless overridden).
        lockstep: integrate the batch as one system (see :func:`rollout_with_input`).
        max_steps: step budget of one rollout; exhausting it ends training as diverged.
        **trainer_options: :class:`~pysciml.training.base.Trainer` options (``lr``, ``epochs`` = iterations,
            ``callbacks``, ``out_dir``, ``seed``, ``progress``, ``restore_best``, ...).
    """

    def __init__(self, model: nn.Module, t: torch.Tensor, y: torch.Tensor, series: Any, *, method: str = "dopri5",
                 adjoint: bool = False, lockstep: bool = True, solver_options: dict[str, Any] | None = None,
                 max_steps: int = 20_000, **trainer_options: Any) -> None:
        super().__init__(model, **trainer_options)
        if not isinstance(y, torch.Tensor) or y.dim() != 3 or not y.is_floating_point():
            raise ValidationError("y must be a floating torch.Tensor [batch, time, state]")
        t = torch.as_tensor(t, dtype=y.dtype).reshape(-1)
        if t.numel() != y.shape[1] or t.numel() < 2:
            raise ValidationError(f"t has {t.numel()} times but y has {y.shape[1]} samples per trajectory (need >= 2)")
        if not callable(series) or not hasattr(series, "select"):
            raise InputTypeError("series must be the inputs' FourierSeries (callable u(t [B]) with .select)")
        self.t, self.y, self.series = t, y, series
        opts = dict(solver_options or {})
        if method == "euler":
            opts.setdefault("step_size", float(t[1] - t[0]))
        self.method, self.adjoint, self.lockstep = method, bool(adjoint), bool(lockstep)
        self.solver_options = {**opts, "max_steps": check_positive_int(max_steps, "max_steps")}

    def batches(self) -> Iterator[Any]:
        yield None          # one iteration = the full batch (the paper's batch of 100 trajectories)

    def batch_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        try:
            pred = rollout_with_input(self.model, self.series, self.y[:, 0], self.t, self.method, self.adjoint,
                                      self.lockstep, **self.solver_options)
        except (RuntimeError, ValueError) as exc:
            raise TrainingDiverged(f"{self.method} rollout failed at step {self.step + 1}: {exc}") from exc
        loss = (pred - self.y).pow(2).mean()
        return loss, {"mse_loss": float(loss.detach())}
