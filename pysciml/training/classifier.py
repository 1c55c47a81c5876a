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
from .base import Trainer

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
    """

    def __init__(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 test: tuple[torch.Tensor, torch.Tensor] | None = None, *, batch_size: int = 128,
                 regularizers: Sequence[Regularizer] = (), track_jacobian: bool = True,
                 **trainer_options: Any) -> None:
        super().__init__(model, **trainer_options)
        self.x, self.y = _check_xy(*train, "train")
        self.test = None if test is None else _check_xy(*test, "test")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.regularizers = list(regularizers)
        if (self.regularizers or track_jacobian) and not hasattr(model, "vector_field"):
            raise ValidationError("regularizers and track_jacobian need model.vector_field (f(t, h))")
        self.track_jacobian = bool(track_jacobian)

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        perm = torch.randperm(self.x.shape[0], generator=self.data_generator)
        for i in range(0, perm.numel(), self.batch_size):
            idx = perm[i:i + self.batch_size]
            yield self.x[idx], self.y[idx]

    def batch_loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        logits = self.model(x)
        nfe = read_nfe(self.model)
        ce = nn.functional.cross_entropy(logits, y)
        info = {"ce_loss": float(ce.detach()), "nfe": nfe,
                "train_acc": float((logits.argmax(-1) == y).double().mean())}
        total = ce
        t0 = torch.zeros(x.shape[0], dtype=x.dtype)
        for reg in self.regularizers:
            value = reg(self.model.vector_field, x, t0)
            info[f"reg_{type(reg).__name__}"] = float(value.detach())
            total = total + value
        return total, info

    def evaluate(self) -> dict[str, float]:
        if self.test is None:
            return {}
        x, y = self.test
        with torch.no_grad():
            logits = self.model(x)
            out = {"val_loss": float(nn.functional.cross_entropy(logits, y)),
                   "val_acc": float((logits.argmax(-1) == y).double().mean()),
                   "val_nfe": read_nfe(self.model)}
        if self.track_jacobian:
            f, t0 = self.model.vector_field, torch.zeros(x.shape[0], dtype=x.dtype)
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
