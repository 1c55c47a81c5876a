"""Training of a neural-ODE classifier with Jacobian regularisation (Josias & Brink 2022, seed 000).

Loss per batch: cross-entropy of the logits (seed 000 ``L_base``) plus the regularisers evaluated at the
inputs, i.e. at the ODE's initial conditions at ``t = 0`` (seed 000 §2: "we evaluate the Jacobian at the
initial conditions"), on ``model.vector_field``. Per epoch it records the mean NFE per batch (the model's
count of the last forward pass), held-out loss and accuracy, and the mean ``σ_max``, ``σ_min`` and
``κ(J) = σ_max/σ_min`` of the field's Jacobian at the held-out inputs (seed 000 Figs. 4 and 7).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..regularizers.jacobian import exact_jacobian, jacobian_spectral, smallest_singular_value
from ..regularizers.losses import Regularizer
from ..validation import check_positive_int
from ._common import check_regularizers, failed_rows, regularizer_names
from .base import Trainer, TrainingDiverged, check_data_dtype

__all__ = ["ClassifierTrainer", "read_nfe"]


def read_nfe(model: nn.Module) -> float:
    """NFE of the model's last forward pass (``last_nfe`` or ``nfe`` attribute; tensors are averaged)."""
    for name in ("last_nfe", "nfe"):
        value = getattr(model, name, None)
        if value is not None and not callable(value):
            return float(torch.as_tensor(value, dtype=torch.float64).mean())
    return float("nan")


def _check_xy(x: Any, y: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InputTypeError(f"{name} must be a pair of tensors (x [n, d] float, labels [n] int)")
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValidationError(f"{name}: x must be [n, d] and labels [n], got {tuple(x.shape)} and "
                              f"{tuple(y.shape)}")
    if y.is_floating_point():
        raise InputTypeError(f"{name}: labels must be an integer tensor of class indices, got {y.dtype}")
    return x, y.long()


class ClassifierTrainer(Trainer):
    """Train a ``NeuralODEClassifier``-like model (``model(x [B, d]) -> logits [B, C]`` with a
    ``vector_field`` attribute ``f(t, h)`` and an NFE record) on ``train = (x, labels)``.

    ``test = (x, labels)`` is the held-out set: its loss is the monitored ``val_loss`` (best model, early
    stopping) and ``val_acc`` its accuracy. ``track_jacobian=True`` adds ``sigma_max``, ``sigma_min`` and
    ``kappa`` (means over the held-out inputs; exact SVD for ``d <= 64``, iterative otherwise).

    The inputs must be in the model's dtype (:class:`ValidationError` otherwise) and are moved to the
    trainer's ``device``. A forward pass whose solver reports failed samples (``model.last_status``) stops the
    run as ``"diverged"``. Projections after optimiser steps (e.g. seed 002's stabilisation of a
    ``StableNODE`` field) attach as callbacks: ``callbacks=[ProjectionHook(StabilizeHook(0.0))]``.
    """

    def __init__(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 test: tuple[torch.Tensor, torch.Tensor] | None = None, *, batch_size: int = 128,
                 regularizers: Sequence[Regularizer] = (), track_jacobian: bool = True,
                 **trainer_options: Any) -> None:
        super().__init__(model, **trainer_options)
        self.x, self.y = self._place(*_check_xy(*train, "train"), "train")
        self.test = None if test is None else self._place(*_check_xy(*test, "test"), "test")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.regularizers = check_regularizers(regularizers)
        self.reg_names = regularizer_names(self.regularizers)
        if (self.regularizers or track_jacobian) and not hasattr(model, "vector_field"):
            raise ValidationError("regularizers and track_jacobian need model.vector_field (f(t, h))")
        self.track_jacobian = bool(track_jacobian)

    def _place(self, x: torch.Tensor, y: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if not x.is_floating_point():
            raise InputTypeError(f"{name}: x must be a floating tensor, got {x.dtype}")
        check_data_dtype(self.model, x.dtype, f"{name} x")
        return x.to(self.device), y.to(self.device)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        failure = failed_rows(getattr(self.model, "last_status", None))
        if failure is None and not bool(torch.isfinite(logits).all()):
            failure = "non-finite logits"
        if failure is not None:
            raise TrainingDiverged(f"{failure} at optimiser step {self.step}; lower lr or enable clip_grad_norm")
        return logits

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = torch.randperm(self.x.shape[0], generator=self.data_generator)
        for i in range(0, perm.numel(), self.batch_size):
            idx = perm[i:i + self.batch_size]
            yield self.x[idx], self.y[idx]

    def batch_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        logits = self._logits(x)
        nfe = read_nfe(self.model)
        ce = nn.functional.cross_entropy(logits, y)
        info = {"ce_loss": float(ce.detach()), "nfe": nfe,
                "train_acc": float((logits.argmax(-1) == y).double().mean())}
        total = ce
        t0 = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for name, reg in zip(self.reg_names, self.regularizers, strict=True):
            value = reg(self.model.vector_field, x, t0)
            info[name] = float(value.detach())
            total = total + value
        return total, info

    def evaluate(self) -> dict[str, float]:
        if self.test is None:
            return {}
        x, y = self.test
        with torch.no_grad():
            logits = self._logits(x)
            out = {"val_loss": float(nn.functional.cross_entropy(logits, y)),
                   "val_acc": float((logits.argmax(-1) == y).double().mean()),
                   "val_nfe": read_nfe(self.model)}
        if self.track_jacobian:
            f, t0 = self.model.vector_field, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
            with torch.no_grad():
                if x.shape[1] <= 64:
                    s = torch.linalg.svdvals(exact_jacobian(f, x, t0))
                    s_max, s_min = s[:, 0], s[:, -1]
                else:
                    s_max = jacobian_spectral(f, x, t=t0)
                    s_min = smallest_singular_value(f, x, "iterative", t=t0)
            out.update({"sigma_max": float(s_max.mean()), "sigma_min": float(s_min.mean()),
                        "kappa": float((s_max / s_min).mean())})
        return out
