"""Training pieces the reproductions need beyond :class:`pysciml.training.ClassifierTrainer`.

* :class:`BatchwideODEClassifier`: a :class:`~pysciml.models.NeuralODEClassifier` whose solver controls the
  step over the whole batch at once (the batch flattened into one state, error norm over all of it), which is
  how torchdiffeq solves a batch — Josias & Brink (SACAIR 2022) trained with torchdiffeq, so its NFE per batch
  is their NFE. :meth:`BatchwideODEClassifier.per_sample_nfe` gives pysciml's own per-sample count.
* :class:`ExactSpectral`: ``λ σ_max(J)`` from the exact Jacobian and an SVD (for small state dimensions).
* :class:`ReproductionTrainer`: the classifier trainer with the Jacobian spectrum and the per-sample NFE
  measured on the *training* data each epoch (Josias & Brink Fig. 7 and Table 1 say training data), and an
  optional projection ``project(model)`` applied every ``project_every`` optimiser steps (De Marinis et al.'s
  stability constraint during training).

These live here rather than in :mod:`pysciml.training` so the reproduction does not change the library's
trainer. :class:`ReproductionTrainer`'s projection is not yet the library's
:class:`~pysciml.training.ProjectionHook`: the hook projects right after an optimiser step (so per-epoch
validation sees projected weights), this trainer before the next step, as the recorded runs did; switching changes
the per-epoch numbers and is left to a re-run of the reports.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..errors import ValidationError
from ..models import NeuralODEClassifier
from ..regularizers import exact_jacobian
from ..regularizers.losses import Regularizer
from ..training import ClassifierTrainer

__all__ = ["BatchwideODEClassifier", "ExactSpectral", "ReproductionTrainer", "seconds_per_step"]


class _Flattened(nn.Module):
    """``F(t, Y)`` on ``Y [1, B·dim]``: the field applied to each of the ``B`` rows of ``Y`` viewed ``[B, dim]``."""

    def __init__(self, field: nn.Module, dim: int) -> None:
        super().__init__()
        self.field, self.dim = field, dim

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rows = y.reshape(-1, self.dim)
        tt = torch.as_tensor(t, dtype=y.dtype, device=y.device).reshape(-1)[:1].expand(rows.shape[0])
        return self.field(tt, rows).reshape(1, -1)


class BatchwideODEClassifier(NeuralODEClassifier):
    """Neural-ODE classifier solved batch-wide: one adaptive step size for the batch, ``last_nfe`` = the
    evaluations of the field on the whole batch (torchdiffeq's count, initial-step selection included).

    Same arguments as :class:`~pysciml.models.NeuralODEClassifier`; ``x [B, dim] → logits [B, C]``.
    """

    def features(self, x: torch.Tensor) -> torch.Tensor:
        from ..integrators import odeint

        if x.ndim != 2 or x.shape[-1] != self.dim:
            raise ValidationError(f"x must have shape [batch, {self.dim}], got {tuple(x.shape)}")
        t = torch.tensor([0.0, self.t1], dtype=x.dtype, device=x.device)
        sol = odeint(_Flattened(self.vector_field, self.dim), x.reshape(1, -1), t, method=self.method,
                     **self.solver_options)
        self.last_stats, self.last_status = sol.stats, sol.status
        self.last_nfe = int(sol.stats["n_f_evals"][0])
        return sol.ys[0, -1].reshape(x.shape)

    @torch.no_grad()
    def per_sample_nfe(self, x: torch.Tensor) -> float:
        """Mean over the rows of ``x`` of pysciml's per-sample NFE (each sample with its own step control)."""
        from ..integrators import odeint

        t = torch.tensor([0.0, self.t1], dtype=x.dtype, device=x.device)
        sol = odeint(self.vector_field, x, t, method=self.method, **self.solver_options)
        return float(sol.stats["n_f_evals"].double().mean())


class ExactSpectral(Regularizer):
    """``λ ‖J‖_2 = λ σ_max(∂f/∂y)`` per point from the exact ``d × d`` Jacobian (``d`` JVPs and an SVD).

    For the small state dimensions of Josias & Brink (2-D sets, 5-D latents) where the exact value is cheap;
    :class:`pysciml.regularizers.JacobianSpectral` is the power-iteration version for large ``d``.
    """

    def per_point(self, f: Any, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.linalg.svdvals(exact_jacobian(f, x, t))[:, 0]


class ReproductionTrainer(ClassifierTrainer):
    """:class:`ClassifierTrainer` that measures on the training inputs and can project during training.

    Per epoch, besides ``val_loss``/``val_acc`` on ``test``: ``train_sigma_max``, ``train_sigma_min``,
    ``train_kappa`` (means over the training inputs of the exact Jacobian's extreme singular values at
    ``t = 0``, when ``track_jacobian``), and ``per_sample_nfe`` (when the model has ``per_sample_nfe``).
    ``project(model)``, if given, runs before every ``project_every``-th optimiser step's forward pass (so
    after the previous step) and once more by :meth:`finish`; its return values are kept in ``projections``.
    """

    def __init__(self, *args: Any, project: Callable[[nn.Module], Any] | None = None, project_every: int = 1,
                 **kwargs: Any) -> None:
        track = kwargs.pop("track_jacobian", True)
        super().__init__(*args, track_jacobian=False, **kwargs)
        self.track_train_jacobian = bool(track)
        self.project, self.project_every = project, int(project_every)
        self.projections: list[Any] = []
        self._steps = 0

    def batch_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        if self.project is not None and self._steps > 0 and self._steps % self.project_every == 0:
            self.projections.append(self.project(self.model))
        self._steps += 1
        return super().batch_loss(batch)

    def finish(self) -> None:
        """Apply the projection to the final parameters (no-op without ``project``)."""
        if self.project is not None:
            self.projections.append(self.project(self.model))

    def evaluate(self) -> dict[str, float]:
        out = super().evaluate()
        if self.track_train_jacobian:
            f, t0 = self.model.vector_field, torch.zeros(self.x.shape[0], dtype=self.x.dtype)
            with torch.no_grad():
                s = torch.linalg.svdvals(exact_jacobian(f, self.x, t0))
            out.update({"train_sigma_max": float(s[:, 0].mean()), "train_sigma_min": float(s[:, -1].mean()),
                        "train_kappa": float((s[:, 0] / s[:, -1]).mean())})
        if hasattr(self.model, "per_sample_nfe"):
            out["per_sample_nfe"] = self.model.per_sample_nfe(self.x)
        return out


def seconds_per_step(trainer: ClassifierTrainer, n_steps: int = 3) -> float:
    """Wall seconds of one optimiser step (loss, backward): the mean over ``n_steps`` batches after one untimed
    warm-up step (first-call overheads would otherwise dominate), or the warm-up step alone when the epoch has a
    single batch. A calibration for runtime estimates."""
    times = []
    for batch in itertools.islice(trainer.batches(), n_steps + 1):
        t0 = time.perf_counter()
        loss, _ = trainer.batch_loss(batch)
        loss.backward()
        times.append(time.perf_counter() - t0)
    trainer.model.zero_grad(set_to_none=True)
    return sum(times[1:]) / len(times[1:]) if len(times) > 1 else times[0]
