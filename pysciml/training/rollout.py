"""Trajectory (rollout) training of neural ODEs on windows of :class:`pysciml.data.TrajectoryData`.

Loss per batch of windows ``(ts [B, N], ys [B, N, d])``: the trajectory loss — the mean squared error of
the rollout from ``ys[:, 0]`` against the data over the window (seed 001 eq. 2 / seed 003 eq. 20, averaged
instead of summed so that it does not scale with ``B·N·d``) — plus the regularisers, each evaluated on the
data points of the window (``reg(field, ys, ts)``; methods.md §9.1).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..regularizers.losses import Regularizer
from ..validation import check_choice, check_positive_int
from ._common import check_real, check_regularizers, failed_rows, regularizer_names
from .base import Trainer, TrainingDiverged, check_data_dtype, model_dtype

__all__ = ["RolloutTrainer", "model_kind"]


def model_kind(model: nn.Module) -> str:
    """``"field"`` if ``model.forward`` takes ``(t, y)`` (a vector field for ``pysciml.odeint``),
    ``"rollout"`` if it takes ``(y0, t)`` and returns ``[B, T, d]`` itself."""
    names = [p.name for p in inspect.signature(model.forward).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) >= 2 and names[0] in ("t", "time", "s"):
        return "field"
    if len(names) >= 2 and names[0] in ("y0", "x0", "y", "x"):
        return "rollout"
    raise InputTypeError(f"cannot tell whether {type(model).__name__}.forward{tuple(names)} is a vector "
                         f"field f(t, y) or a rollout model forward(y0, t); pass kind='field' or 'rollout'")


class RolloutTrainer(Trainer):
    """Train ``model`` on windows of length ``window`` of ``train_data`` through ``pysciml.odeint``.

    ``model`` is a vector field ``f(t, y)`` (``kind="field"``, integrated with ``method``/``step_size``/
    ``rtol``/``atol``/``solver_options``) or a rollout model ``forward(y0 [B, d], t [B, N]) -> [B, N, d]``
    (``kind="rollout"``; its field for the regularisers is ``model.vector_field``). Validation uses windows
    of length ``val_window`` (default ``window``) of ``val_data``, starting every ``val_stride`` samples
    (default 1; ``val_stride = val_window − 1`` gives the non-overlapping chunks of Janvier et al.,
    arXiv:2602.04608, App. B.1); without ``val_data`` the training loss is monitored. NFE per batch is the
    mean of ``ODESolution.stats["n_f_evals"]`` (0 for rollout models that do not expose ``last_nfe``). See
    :class:`pysciml.training.base.Trainer` for the optimiser, schedule, callbacks, device, checkpoint and resume
    options.

    ``dtype`` is the data's dtype (default: the model's parameter dtype, float64 for a model without
    parameters); a model in another dtype is refused with a :class:`ValidationError`. ``max_steps`` is the
    step budget of one batch's solve (per sample, train and validation): a solve that exhausts it or fails
    (status other than success, e.g. a diverging learning rate makes an adaptive method's steps explode)
    stops training with ``TrainResult.status == "diverged"`` instead of grinding on.
    """

    def __init__(self, model: nn.Module, train_data: Any, val_data: Any = None, *, window: int = 2,
                 stride: int = 1, val_window: int | None = None, val_stride: int = 1, batch_size: int = 64,
                 method: str = "rk4", step_size: float | None = None, rtol: float = 1e-7, atol: float = 1e-9,
                 solver_options: dict[str, Any] | None = None, regularizers: Sequence[Regularizer] = (),
                 kind: str = "auto", dtype: torch.dtype | None = None, max_steps: int = 1000,
                 **trainer_options: Any) -> None:
        super().__init__(model, **trainer_options)
        self.kind = model_kind(model) if kind == "auto" else check_choice(kind, "kind", ("field", "rollout"))
        self.window = check_positive_int(window, "window", minimum=2)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.regularizers = check_regularizers(regularizers)
        self.reg_names = regularizer_names(self.regularizers)
        if dtype is None:
            dtype = model_dtype(model) or torch.float64
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise InputTypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        check_data_dtype(model, dtype, f"the data dtype (dtype={dtype})")
        self.max_steps = check_positive_int(max_steps, "max_steps")
        if self.regularizers and self.kind == "rollout" and not hasattr(model, "vector_field"):
            raise ValidationError("regularizers need a vector field: a rollout model must expose "
                                  "model.vector_field (f(t, y)), or pass the field itself as model")
        self.method, self.dtype = method, dtype
        if solver_options is not None and not isinstance(solver_options, dict):
            raise InputTypeError(f"solver_options must be a dict of pysciml.odeint options, got "
                                 f"{type(solver_options).__name__}")
        self.solver_options = dict(solver_options or {})
        if step_size is not None:
            self.solver_options["step_size"] = check_real(step_size, "step_size", minimum=0.0, strict_minimum=True)
        self.solver_options.setdefault("rtol", rtol)
        self.solver_options.setdefault("atol", atol)
        self.solver_options.setdefault("max_steps", self.max_steps)
        self.train_ts, self.train_ys = self._windows(train_data, self.window, stride, "train_data")
        self.val = None if val_data is None else self._windows(
            val_data, check_positive_int(val_window or self.window, "val_window", minimum=2),
            check_positive_int(val_stride, "val_stride"), "val_data")

    def _windows(self, data: Any, length: int, stride: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(data, "windows"):
            raise InputTypeError(f"{name} must be a pysciml.data.TrajectoryData, got {type(data).__name__}")
        ts, ys = data.windows(length, stride=stride, dtype=self.dtype)
        return ts.to(device=self.device, dtype=self.dtype), ys.to(self.device)

    @property
    def field(self) -> nn.Module:
        """The vector field ``f(t, y)`` the regularisers act on."""
        return self.model if self.kind == "field" else self.model.vector_field

    def rollout(self, ts: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Predicted windows ``[B, N, d]`` from ``ys[:, 0]`` over ``ts [B, N]`` and the mean NFE.

        Raises:
            TrainingDiverged: a rollout failed (solver status) or is not finite.
        """
        if self.kind == "rollout":
            pred = self.model(ys[:, 0], ts)
            nfe = float(getattr(self.model, "last_nfe", 0.0) or 0.0)
            failure = failed_rows(getattr(getattr(self.model, "last_solution", None), "status", None))
        else:
            from ..integrators import odeint

            sol = odeint(self.model, ys[:, 0], ts, method=self.method, **self.solver_options)
            pred, nfe = sol.ys, sol.stats["n_f_evals"].to(torch.float64).mean().item()
            failure = failed_rows(sol.status)
        if failure is None and not bool(torch.isfinite(pred).all()):
            failure = "the rollout is not finite"
        if failure is not None:
            raise TrainingDiverged(f"{failure} at optimiser step {self.step} (step budget max_steps="
                                   f"{self.solver_options.get('max_steps')}); lower lr, enable clip_grad_norm, or "
                                   f"raise max_steps if the model is healthy but stiff")
        return pred, nfe

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = torch.randperm(self.train_ts.shape[0], generator=self.data_generator)
        for i in range(0, perm.numel(), self.batch_size):
            idx = perm[i:i + self.batch_size]
            yield self.train_ts[idx], self.train_ys[idx]

    def batch_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        ts, ys = batch
        pred, nfe = self.rollout(ts, ys)
        traj = (pred - ys).pow(2).mean()
        info = {"traj_loss": float(traj.detach()), "nfe": nfe}
        total = traj
        for name, reg in zip(self.reg_names, self.regularizers, strict=True):
            value = reg(self.field, ys, ts)
            info[name] = float(value.detach())
            total = total + value
        return total, info

    def evaluate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        ts, ys = self.val
        total, count = 0.0, 0
        with torch.no_grad():
            for i in range(0, ts.shape[0], self.batch_size):
                pred, _ = self.rollout(ts[i:i + self.batch_size], ys[i:i + self.batch_size])
                total += float((pred - ys[i:i + self.batch_size]).pow(2).sum())
                count += pred.numel()
        return {"val_loss": total / max(count, 1)}
