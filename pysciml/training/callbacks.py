"""Callbacks: small objects that extend a :class:`~pysciml.training.Trainer` without subclassing it.

A callback overrides any of the hooks of :class:`Callback`; the trainer calls them in this order:

* ``on_fit_start(trainer)`` once, after the optimiser exists (``trainer.optimizer``) and before a resumed
  state is loaded;
* ``loss_terms(trainer, batch)`` for every batch: extra named loss terms (tensors with graph) added to the
  batch loss and logged separately (e.g. a penalty);
* ``on_step(trainer, step)`` after every optimiser step (``step`` = optimiser steps so far, from 1);
* ``on_validation(trainer, record)`` after the epoch's validation; may add metrics to ``record``;
* ``on_epoch_end(trainer, record)`` after best-model selection and before the checkpoint is written; may set
  ``trainer.stop_training = True``;
* ``on_fit_end(trainer, result)`` once at the end.

``state_dict()`` / ``load_state_dict()`` carry a callback's state through checkpoints, so that a resumed run
with callbacks is bit-identical to an uninterrupted one. Early stopping (:class:`EarlyStopping`), learning
-rate schedules (:class:`LRScheduler`, :class:`ExponentialDecay`, per step or per epoch) and projections
after optimiser steps (:class:`ProjectionHook`, e.g. with :class:`pysciml.stability.StabilizeHook`) or as a
penalty (:class:`StabilizePenalty`) are callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import CheckpointError, InputTypeError, ValidationError
from ..validation import check_choice, check_positive_int

if TYPE_CHECKING:
    from .base import Trainer, TrainResult

__all__ = ["Callback", "EarlyStopping", "ExponentialDecay", "LRScheduler", "ProjectionHook", "StabilizePenalty"]


class Callback:
    """Base class; every hook is a no-op. Subclass and override the hooks you need."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Once, after the optimiser is built (``trainer.optimizer``) and before a resumed state is loaded."""

    def loss_terms(self, trainer: Trainer, batch: Any) -> dict[str, torch.Tensor]:
        """Extra loss terms for ``batch`` (name → scalar tensor with graph), added to the loss and logged."""
        return {}

    def on_step(self, trainer: Trainer, step: int) -> None:
        """After optimiser step number ``step`` (counted from 1 over the whole run)."""

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """After the epoch's validation; ``record`` holds the epoch's metrics and may be extended."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """After best-model selection, before the checkpoint; set ``trainer.stop_training`` to stop."""

    def on_fit_end(self, trainer: Trainer, result: TrainResult) -> None:
        """Once, after the last epoch (also after early stopping or divergence)."""

    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints (tensors, numbers, strings, lists, dicts)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``monitor=None`` uses the trainer's monitored key (``val_loss`` when there is validation data, otherwise
    ``train_loss``); smaller is better.
    """

    def __init__(self, patience: int, monitor: str | None = None, min_delta: float = 0.0) -> None:
        self.patience = check_positive_int(patience, "patience")
        if not (math.isfinite(float(min_delta)) and float(min_delta) >= 0):
            raise ValidationError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.monitor, self.min_delta = monitor, float(min_delta)
        self.best, self.bad_epochs = math.inf, 0

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        key = self.monitor or trainer.monitor_key(record)
        if key not in record:
            raise ValidationError(f"EarlyStopping monitor {key!r} is not among the epoch's metrics "
                                  f"{sorted(record)}; pass monitor= one of them")
        value = float(record[key])
        if value < self.best - self.min_delta:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            trainer.stop_training = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])


class LRScheduler(Callback):
    """Drive a ``torch.optim.lr_scheduler`` built by ``factory(optimizer)``, stepped after every optimiser
    step (``per="step"``) or after every epoch (``per="epoch"``)."""

    def __init__(self, factory: Callable[[torch.optim.Optimizer], Any], per: str = "epoch") -> None:
        if not callable(factory):
            raise InputTypeError(f"factory must be a callable optimizer -> scheduler, got {type(factory).__name__}")
        self.factory = factory
        self.per = check_choice(per, "per", ("epoch", "step"))
        self.scheduler: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self.scheduler = self.factory(trainer.optimizer)
        if not callable(getattr(self.scheduler, "step", None)):
            raise InputTypeError("the LRScheduler factory must return a torch lr scheduler (with .step())")

    def on_step(self, trainer: Trainer, step: int) -> None:
        if self.per == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.per == "epoch":
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scheduler is None else dict(self.scheduler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


class ExponentialDecay(LRScheduler):
    """``lr_k = lr · gamma^k`` with ``k`` the number of epochs (``per="epoch"``, the trainers' default
    schedule, seeds 000/001) or of optimiser steps (``per="step"``) done so far."""

    def __init__(self, gamma: float, per: str = "epoch") -> None:
        if not (math.isfinite(float(gamma)) and 0 < float(gamma) <= 1):
            raise ValidationError(f"gamma (the decay factor) must be in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(self._build, per)

    def _build(self, optimizer: torch.optim.Optimizer) -> Any:
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.gamma)


class ProjectionHook(Callback):
    """Call ``fn(target, step)`` without gradient after every ``every``-th optimiser step (projected training).

    ``target`` is the trainer's model, or its submodule at the dotted path ``module`` (e.g.
    ``"vector_field"`` for a :class:`~pysciml.models.NeuralODEClassifier`). ``module=None`` picks the model, or
    its ``vector_field`` when the model has one and ``fn`` needs a weight ``A`` the model lacks — so
    ``ProjectionHook(StabilizeHook(delta_target=0.0))`` attaches seed 002's projection
    (:class:`pysciml.stability.StabilizeHook`) to a ``ClassifierTrainer`` of a ``NeuralODEClassifier`` with a
    ``StableNODE`` field. The hook's return value is kept in ``last``; ``calls`` counts the projections.
    """

    def __init__(self, fn: Callable[[nn.Module, int], Any], every: int = 1, module: str | None = None) -> None:
        if not callable(fn):
            raise InputTypeError(f"fn must be a callable (module, step) -> Any, got {type(fn).__name__}")
        self.fn, self.every, self.module = fn, check_positive_int(every, "every"), module
        self.calls, self.last = 0, None

    def target(self, model: nn.Module) -> nn.Module:
        """The module the projection acts on."""
        return _submodule(model, self.module)

    def on_step(self, trainer: Trainer, step: int) -> None:
        if step % self.every:
            return
        with torch.no_grad():
            self.last = self.fn(self.target(trainer.model), step)
        self.calls += 1

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        record["projections"] = self.calls

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls = int(state["calls"])


def _submodule(model: nn.Module, path: str | None) -> nn.Module:
    """``model``'s submodule at the dotted ``path``; ``None``: ``model``, or its ``vector_field`` when ``model``
    has one and no weight ``A`` itself."""
    if path is None:
        inner = getattr(model, "vector_field", None)
        return inner if isinstance(inner, nn.Module) and not hasattr(model, "A") else model
    target: Any = model
    for part in path.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValidationError(f"module path {path!r}: {type(model).__name__} has no submodule {part!r}")
    return target


class StabilizePenalty(Callback):
    """Penalty ``weight · ‖A − (A + Δ)‖_F²`` pulling the weight ``A`` of a ``StableNODE``-like module towards its
    stabilised version, the alternative to projecting (seed 002; arXiv:2501.10740).

    ``Δ`` is the minimal-Frobenius perturbation with ``max_{α≤D≤1} μ₂(D(A + Δ)) ≤ delta_target`` from
    :func:`pysciml.stability.stabilize` (``options``: its ``tol``, ``rtol``, ``max_iter``, ``restarts``, ``seed``,
    ``certify``), recomputed from the current ``A`` every ``every`` optimiser steps and held fixed (no gradient)
    in between. The term is logged as ``stabilize_penalty``. ``module`` as for :class:`ProjectionHook`.
    """

    def __init__(self, weight: float, delta_target: float = 0.0, every: int = 1, module: str | None = None,
                 **options: Any) -> None:
        if not (math.isfinite(float(weight)) and float(weight) >= 0):
            raise ValidationError(f"weight must be a finite number >= 0, got {weight!r}")
        self.weight, self.delta_target = float(weight), float(delta_target)
        self.every, self.module, self.options = check_positive_int(every, "every"), module, options
        self.anchor: torch.Tensor | None = None

    def loss_terms(self, trainer: Trainer, batch: Any) -> dict[str, torch.Tensor]:
        from ..stability import stabilize

        target = _submodule(trainer.model, self.module)
        weight = getattr(target, "A", None)
        alpha = getattr(getattr(target, "activation", None), "alpha", None)
        if not isinstance(weight, torch.Tensor) or alpha is None:
            raise InputTypeError(f"StabilizePenalty needs a module with a weight `A` and `activation.alpha` (e.g. "
                                 f"pysciml.models.StableNODE); got {type(target).__name__}")
        if self.anchor is None or trainer.step % self.every == 0:
            res = stabilize(weight.detach(), float(alpha), self.delta_target, **self.options)
            self.anchor = (weight.detach() + res.delta_matrix.to(weight)).clone()
        return {"stabilize_penalty": self.weight * (weight - self.anchor).pow(2).sum()}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.anchor is None else {"anchor": self.anchor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.anchor = state.get("anchor")


def callback_list(callbacks: Any, lr_decay: float) -> list[Callback]:
    """A trainer's callback list: ``callbacks`` checked to be :class:`Callback` objects, with an
    :class:`ExponentialDecay` of ``lr_decay`` per epoch first unless one of them is an :class:`LRScheduler`
    (then ``lr_decay`` must be 1)."""
    if callbacks is None:
        callbacks = ()
    if not isinstance(callbacks, (list, tuple)):
        raise InputTypeError(f"callbacks must be a list of pysciml.training.Callback objects, got "
                             f"{type(callbacks).__name__}")
    out = list(callbacks)
    for i, cb in enumerate(out):
        if not isinstance(cb, Callback):
            hint = (" (subclass pysciml.training.Callback; wrap a projection function in ProjectionHook(fn))"
                    if callable(cb) else "")
            raise InputTypeError(f"callbacks[{i}] must be a pysciml.training.Callback, got {type(cb).__name__}{hint}")
    if any(isinstance(cb, LRScheduler) for cb in out):
        if lr_decay != 1.0:
            raise ValidationError("pass either lr_decay or an LRScheduler callback, not both")
    else:
        out.insert(0, ExponentialDecay(lr_decay, per="epoch"))
    return out


def add_loss_terms(callbacks: list[Callback], trainer: Any, batch: Any,
                   loss: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """``loss`` plus every callback's :meth:`Callback.loss_terms` for ``batch``, and the terms' values by name."""
    terms: dict[str, float] = {}
    for cb in callbacks:
        for name, term in cb.loss_terms(trainer, batch).items():
            terms[name] = float(term.detach())
            loss = loss + term
    return loss, terms


def callback_states(callbacks: list[Callback]) -> list[dict[str, Any]]:
    """Checkpoint entry: class name and state of every callback, in order."""
    return [{"type": type(cb).__name__, "state": cb.state_dict()} for cb in callbacks]


def load_callback_states(callbacks: list[Callback], states: Any, source: str) -> None:
    """Restore :func:`callback_states`' output into ``callbacks`` (same classes, same order)."""
    names = [type(cb).__name__ for cb in callbacks]
    stored = [s.get("type") if isinstance(s, dict) else None for s in states] if isinstance(states, list) else None
    if stored != names:
        raise CheckpointError(f"checkpoint {source!r} was written with callbacks {stored}, this trainer has "
                              f"{names}; resume with the same callbacks (and patience/lr_decay), or start fresh")
    for cb, st in zip(callbacks, states, strict=True):
        try:
            cb.load_state_dict(st["state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {source!r}: cannot restore the state of {type(cb).__name__} "
                                  f"({exc})") from exc
