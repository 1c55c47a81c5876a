"""The one training loop shared by :class:`RolloutTrainer` and :class:`ClassifierTrainer`.

Adam, optional gradient-norm clipping, per-epoch validation, best-model selection, tqdm progress, metrics as
JSON lines (every loss term its own key), atomic checksummed checkpoints every ``checkpoint_every`` epochs,
and exact resumption: a checkpoint holds the model (its weights and constructor config, so that
:func:`pysciml.load_model` rebuilds it), optimiser, callback states, best model, history, step count and the
torch / numpy / python / data-order RNG states, so ``fit(resume=True)`` continues to bit-identical
parameters on CPU. Learning-rate schedules (default: exponential decay ``lr_epoch = lr · gamma^epoch``, the
schedule of seeds 000/001), early stopping and projections are :mod:`callbacks <pysciml.training.callbacks>`.

A batch whose loss or gradient is not finite, or whose solver fails or exhausts its step budget, stops the
run with ``TrainResult.status == "diverged"`` (recorded in the metrics too); the model is then restored to
the best parameters seen.
"""

from __future__ import annotations

import copy
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, InputTypeError, PySciMLError, ValidationError
from ..validation import check_positive_int
from ._common import check_real
from .callbacks import Callback, EarlyStopping, add_loss_terms, callback_list, callback_states, load_callback_states
from .checkpoint import capture_rng_state, load_checkpoint, model_record, restore_rng_state, save_checkpoint
from .metrics import plot_loss_curve, write_jsonl

__all__ = ["TrainResult", "Trainer", "TrainingDiverged"]

CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best_model.pt"
METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "loss_curve.png"


class TrainingDiverged(PySciMLError):
    """Raised inside a training step when the run diverged (non-finite loss/gradient, failed solve); the loop
    catches it and ends the run with status ``"diverged"``."""


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    ``status`` is ``"completed"`` (all epochs), ``"stopped_early"`` (a callback stopped the run) or
    ``"diverged"`` (``diverged_reason`` says why and at which epoch/step).
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped_early: bool = False
    out_dir: Path | None = None
    status: str = "completed"
    diverged_reason: str | None = None


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The floating dtype of ``model``'s parameters (``None`` without floating parameters).

    Raises:
        ValidationError: the parameters mix floating dtypes.
    """
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if len(dtypes) > 1:
        raise ValidationError(f"model parameters mix dtypes {sorted(str(d) for d in dtypes)}; convert the model "
                              f"to one dtype (model.double() or model.float())")
    return dtypes.pop() if dtypes else None


def check_data_dtype(model: nn.Module, dtype: torch.dtype, name: str) -> None:
    """Raise a :class:`ValidationError` if ``model``'s parameters are not in the data's ``dtype``."""
    mdtype = model_dtype(model)
    if mdtype is not None and mdtype != dtype:
        fix = "model.double()" if dtype == torch.float64 else f"model.to({dtype})"
        raise ValidationError(f"{name} is {dtype} but the model's parameters are {mdtype}; convert one of them "
                              f"({fix}, or pass data in {mdtype})")


def _device(device: Any, model: nn.Module) -> torch.device:
    if device is None:
        param = next(model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")
    try:
        out = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValidationError(f"device must be a torch device or its name ('cpu', 'cuda', 'cuda:0'), got "
                              f"{device!r}") from exc
    try:
        torch.empty(0, device=out)
    except (RuntimeError, AssertionError) as exc:
        raise ValidationError(f"device {str(out)!r} is not available on this machine ({exc}); pass device='cpu' "
                              f"or an available accelerator") from exc
    return out


class Trainer(ABC):
    """Generic epoch loop; subclasses provide :meth:`batches`, :meth:`batch_loss` and :meth:`evaluate`.

    Args:
        model: the ``nn.Module`` to train (moved to ``device``).
        lr, weight_decay: Adam settings. ``clip_grad_norm``: gradient-norm clipping (``None``: off).
        lr_decay: per-epoch factor ``gamma`` of the default :class:`ExponentialDecay` schedule; used only
            when ``callbacks`` hold no :class:`LRScheduler`.
        epochs: maximum number of epochs. ``patience``: adds :class:`EarlyStopping` on the monitored key.
        callbacks: :class:`~pysciml.training.callbacks.Callback` objects (schedules, early stopping,
            :class:`ProjectionHook`, your own).
        device: where to train (``None``: the model's current device); the data is moved there.
        checkpoint_every, out_dir: ``out_dir`` (optional) receives ``checkpoint.pt``, ``best_model.pt``,
            ``metrics.jsonl`` and ``loss_curve.png``; ``resume=True`` needs it.
        seed: seeds torch, numpy, python and the data order. ``progress``: tqdm bar.
        restore_best: leave the best parameters (by ``monitor_key``) in the model at the end.
    """

    monitor_default = "val_loss"

    def __init__(self, model: nn.Module, *, lr: float = 1e-3, lr_decay: float = 1.0,
                 weight_decay: float = 0.0, clip_grad_norm: float | None = None, epochs: int = 10,
                 patience: int | None = None, callbacks: Sequence[Callback] | None = (), device: Any = None,
                 checkpoint_every: int = 1, out_dir: str | Path | None = None, seed: int = 0,
                 progress: bool = True, restore_best: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
        lr_decay = check_real(lr_decay, "lr_decay (per-epoch factor gamma)", minimum=0.0, maximum=1.0,
                              strict_minimum=True)
        weight_decay = check_real(weight_decay, "weight_decay", minimum=0.0)
        if clip_grad_norm is not None:
            clip_grad_norm = check_real(clip_grad_norm, "clip_grad_norm", minimum=0.0, strict_minimum=True)
        if out_dir is not None and not isinstance(out_dir, (str, Path)):
            raise InputTypeError(f"out_dir must be a path (str or pathlib.Path) or None, got {type(out_dir).__name__}")
        self.callbacks: list[Callback] = callback_list(callbacks, lr_decay)
        if patience is not None:
            self.callbacks.append(EarlyStopping(check_positive_int(patience, "patience")))
        self.device = _device(device, model)
        self.model = model.to(self.device)
        self.lr, self.lr_decay, self.weight_decay = float(lr), float(lr_decay), float(weight_decay)
        self.clip_grad_norm = clip_grad_norm
        self.epochs = check_positive_int(epochs, "epochs")
        self.patience = patience
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = check_positive_int(seed, "seed", minimum=0)
        self.progress = bool(progress)
        self.restore_best = bool(restore_best)
        self.data_generator = torch.Generator()
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0
        self.stop_training = False

    # --- hooks -----------------------------------------------------------------------------------------
    @abstractmethod
    def batches(self) -> Iterator[Any]:
        """Training batches of one epoch, shuffled with ``self.data_generator``."""

    @abstractmethod
    def batch_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss of one batch (with graph) and scalar diagnostics to average over the epoch; loss terms
        are logged under keys ending in ``_loss`` or starting with ``reg_``. Raise :class:`TrainingDiverged`
        when the batch's solve failed."""

    def evaluate(self) -> dict[str, float]:
        """Validation metrics after an epoch (keys starting with ``val_``); may be empty."""
        return {}

    def monitor_key(self, record: dict[str, Any]) -> str:
        """The record key used for best-model selection: ``val_loss`` if present, else ``train_loss``."""
        return self.monitor_default if self.monitor_default in record else "train_loss"

    # --- loop ------------------------------------------------------------------------------------------
    def _seed_everything(self) -> None:
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)  # noqa: NPY002 - global state is part of a run
        random.seed(self.seed)
        self.data_generator.manual_seed(self.seed)

    def _path(self, name: str) -> Path | None:
        return None if self.out_dir is None else self.out_dir / name

    def _train_step(self, batch: Any, epoch: int) -> dict[str, float]:
        opt = self.optimizer
        assert opt is not None
        opt.zero_grad(set_to_none=True)
        loss, info = self.batch_loss(batch)
        loss, terms = add_loss_terms(self.callbacks, self, batch, loss)
        info.update(terms)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"non-finite training loss at epoch {epoch}, step {self.step + 1}")
        loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        max_norm = self.clip_grad_norm if self.clip_grad_norm is not None else math.inf
        grad_norm = nn.utils.clip_grad_norm_(params, max_norm) if params else torch.zeros(())
        if not torch.isfinite(grad_norm):
            raise TrainingDiverged(f"non-finite gradient at epoch {epoch}, step {self.step + 1}")
        opt.step()
        self.step += 1
        for cb in self.callbacks:
            cb.on_step(self, self.step)
        return {"train_loss": float(loss.detach()), **info}

    def _resume(self, result: TrainResult) -> tuple[int, dict[str, torch.Tensor] | None]:
        ckpt_path = self._path(CHECKPOINT_NAME)
        if ckpt_path is None:
            raise ValidationError("resume=True needs out_dir, the folder holding checkpoint.pt")
        ckpt = load_checkpoint(ckpt_path)
        if ckpt.get("model_type") != type(self.model).__name__:
            raise CheckpointError(f"checkpoint {str(ckpt_path)!r} holds a {ckpt.get('model_type')!r} model, this "
                                  f"trainer trains a {type(self.model).__name__!r}; use the same model or start "
                                  f"fresh in another out_dir")
        assert self.optimizer is not None
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            start, self.step = int(ckpt["epoch"]) + 1, int(ckpt["step"])
            best_state, result.history = ckpt["best_model"], list(ckpt["history"])
            result.best_epoch, result.best_loss = int(ckpt["best_epoch"]), float(ckpt["best_loss"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {str(ckpt_path)!r} does not match this model/trainer "
                                  f"({exc}); use the same model and settings, or start fresh") from exc
        load_callback_states(self.callbacks, ckpt.get("callbacks"), str(ckpt_path))
        restore_rng_state(ckpt["rng"], self.data_generator)
        return start, best_state

    def fit(self, resume: bool = False) -> TrainResult:
        """Train for ``epochs`` epochs (or until a callback stops the run, or it diverges); with
        ``resume=True`` continue from ``out_dir/checkpoint.pt``. Returns a :class:`TrainResult`; the model
        holds the best parameters (``restore_best=True``) or the last ones."""
        from tqdm.auto import tqdm

        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.step, self.stop_training = 0, False
        result = TrainResult(out_dir=self.out_dir)
        best_state: dict[str, torch.Tensor] | None = None
        for cb in self.callbacks:
            cb.on_fit_start(self)
        start = 0
        if resume:
            start, best_state = self._resume(result)
        else:
            self._seed_everything()
        bar = tqdm(range(start, self.epochs), desc="training", unit="epoch", initial=start, total=self.epochs,
                   disable=not self.progress)
        for epoch in bar:
            record: dict[str, Any] = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"]}
            try:
                record.update(self._run_epoch(epoch))
            except TrainingDiverged as exc:
                result.status, result.diverged_reason = "diverged", str(exc)
                result.history.append({"epoch": epoch, "step": self.step, "status": "diverged",
                                       "reason": str(exc)})
                self._write_outputs(epoch, best_state, result, checkpoint=False)
                break
            for cb in self.callbacks:
                cb.on_validation(self, record)
            result.history.append(record)
            key = self.monitor_key(record)
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in ("train_loss", "nfe", key)})
            if record[key] < result.best_loss:
                result.best_loss, result.best_epoch = float(record[key]), epoch
                best_state = copy.deepcopy(self.model.state_dict())
            for cb in self.callbacks:
                cb.on_epoch_end(self, record)
            stop = self.stop_training
            self._write_outputs(epoch, best_state, result,
                                checkpoint=stop or epoch == self.epochs - 1 or (epoch + 1) % self.checkpoint_every == 0)
            if stop:
                result.stopped_early, result.status = True, "stopped_early"
                break
        bar.close()
        if self.restore_best and best_state is not None:
            self.model.load_state_dict(best_state)
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _run_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        sums: dict[str, float] = {}
        n_batches = 0
        for batch in self.batches():
            for k, v in self._train_step(batch, epoch).items():
                sums[k] = sums.get(k, 0.0) + v
            n_batches += 1
        record = {k: v / max(n_batches, 1) for k, v in sums.items()}
        self.model.eval()
        record.update(self.evaluate())
        return record

    def _write_outputs(self, epoch: int, best_state: dict[str, torch.Tensor] | None, result: TrainResult,
                       checkpoint: bool) -> None:
        if self.out_dir is None:
            return
        write_jsonl(self.out_dir / METRICS_NAME, result.history)
        if not checkpoint and result.status != "diverged":
            return
        plot_loss_curve(result.history, self.out_dir / PLOT_NAME)
        if not checkpoint:
            return
        assert self.optimizer is not None
        record = model_record(self.model)
        save_checkpoint(self.out_dir / CHECKPOINT_NAME, {
            **record, "epoch": epoch, "step": self.step, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "callbacks": callback_states(self.callbacks),
            "best_model": best_state, "best_epoch": result.best_epoch, "best_loss": result.best_loss,
            "history": result.history, "rng": capture_rng_state(self.data_generator)})
        if best_state is not None:
            save_checkpoint(self.out_dir / BEST_NAME, {**record, "model": best_state, "epoch": result.best_epoch})
