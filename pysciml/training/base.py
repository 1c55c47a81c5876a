"""The one training loop shared by :class:`RolloutTrainer` and :class:`ClassifierTrainer`.

Adam with an exponential learning-rate decay (``lr_epoch = lr · gamma^epoch``, the schedule of seeds 000/001),
optional gradient-norm clipping, per-epoch validation, best-model selection, early stopping, tqdm progress,
metrics as JSON lines, atomic checkpoints every ``checkpoint_every`` epochs, and exact resumption: a
checkpoint holds the model, optimiser, scheduler, best model, history, early-stopping counter and the
torch / numpy / python / data-order RNG states, so ``fit(resume=True)`` continues to
bit-identical parameters on CPU.
"""

from __future__ import annotations

import copy
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, InputTypeError, ValidationError
from ..validation import check_positive_int
from .checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .metrics import plot_loss_curve, write_jsonl

__all__ = ["TrainResult", "Trainer"]

CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best_model.pt"
METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "loss_curve.png"


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`: per-epoch ``history`` records, best epoch and its monitored loss."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    stopped_early: bool = False
    out_dir: Path | None = None


class Trainer(ABC):
    """Generic epoch loop; subclasses provide :meth:`batches`, :meth:`batch_loss` and :meth:`evaluate`.

    ``monitor`` names the record key used for best-model selection and early stopping (smaller is better).
    ``out_dir`` (optional) receives ``checkpoint.pt``, ``best_model.pt``, ``metrics.jsonl`` and
    ``loss_curve.png``; ``resume=True`` needs it.
    """

    monitor_default = "val_loss"

    def __init__(self, model: nn.Module, *, lr: float = 1e-3, lr_decay: float = 1.0,
                 weight_decay: float = 0.0, clip_grad_norm: float | None = None, epochs: int = 10,
                 patience: int | None = None, checkpoint_every: int = 1,
                 out_dir: str | Path | None = None, seed: int = 0, progress: bool = True,
                 restore_best: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not (lr > 0 and math.isfinite(lr)):
            raise ValidationError(f"lr must be a positive finite number, got {lr!r}")
        if not 0 < lr_decay <= 1:
            raise ValidationError(f"lr_decay (per-epoch factor gamma) must be in (0, 1], got {lr_decay!r}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValidationError(f"clip_grad_norm must be positive or None, got {clip_grad_norm!r}")
        self.model = model
        self.lr, self.lr_decay, self.weight_decay = float(lr), float(lr_decay), float(weight_decay)
        self.clip_grad_norm = clip_grad_norm
        self.epochs = check_positive_int(epochs, "epochs")
        self.patience = None if patience is None else check_positive_int(patience, "patience")
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.seed = int(seed)
        self.progress = bool(progress)
        self.restore_best = bool(restore_best)
        self.data_generator = torch.Generator()

    # --- hooks -----------------------------------------------------------------------------------------
    @abstractmethod
    def batches(self) -> Iterator[Any]:
        """Training batches of one epoch, shuffled with ``self.data_generator``."""

    @abstractmethod
    def batch_loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss of one batch (with graph) and scalar diagnostics to average over the epoch."""

    def evaluate(self) -> dict[str, float]:
        """Validation metrics after an epoch (e.g. ``{"val_loss": ...}``); may be empty."""
        return {}

    # --- loop ------------------------------------------------------------------------------------------
    def _seed_everything(self) -> None:
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)  # noqa: NPY002 - global state is part of a run
        random.seed(self.seed)
        self.data_generator.manual_seed(self.seed)

    def _make_optimiser(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.lr_decay)

    def _path(self, name: str) -> Path | None:
        return None if self.out_dir is None else self.out_dir / name

    def fit(self, resume: bool = False) -> TrainResult:
        """Train for ``epochs`` epochs (or until early stopping); with ``resume=True`` continue from
        ``out_dir/checkpoint.pt``. Returns a :class:`TrainResult`; the model holds the best parameters
        (``restore_best=True``) or the last ones."""
        from tqdm.auto import tqdm

        opt, sched = self._make_optimiser()
        result = TrainResult(out_dir=self.out_dir)
        best_state: dict[str, torch.Tensor] | None = None
        bad_epochs, start = 0, 0
        if resume:
            ckpt_path = self._path(CHECKPOINT_NAME)
            if ckpt_path is None:
                raise ValidationError("resume=True needs out_dir, the folder holding checkpoint.pt")
            ckpt = load_checkpoint(ckpt_path)
            try:
                self.model.load_state_dict(ckpt["model"])
                opt.load_state_dict(ckpt["optimizer"])
                sched.load_state_dict(ckpt["scheduler"])
                start, bad_epochs = int(ckpt["epoch"]) + 1, int(ckpt["bad_epochs"])
                best_state, result.history = ckpt["best_model"], list(ckpt["history"])
                result.best_epoch, result.best_loss = int(ckpt["best_epoch"]), float(ckpt["best_loss"])
            except (KeyError, RuntimeError, ValueError) as exc:
                raise CheckpointError(f"checkpoint {str(ckpt_path)!r} does not match this model/trainer "
                                      f"({exc}); use the same model and settings, or start fresh") from exc
            restore_rng_state(ckpt["rng"], self.data_generator)
        else:
            self._seed_everything()
        monitor = self.monitor_default
        bar = tqdm(range(start, self.epochs), desc="training", unit="epoch", initial=start, total=self.epochs,
                   disable=not self.progress)
        for epoch in bar:
            self.model.train()
            sums: dict[str, float] = {}
            n_batches = 0
            for batch in self.batches():
                opt.zero_grad(set_to_none=True)
                loss, info = self.batch_loss(batch)
                if not torch.isfinite(loss):
                    raise ValidationError(f"non-finite training loss at epoch {epoch}; lower lr, enable "
                                          f"clip_grad_norm or check the data/solver settings")
                loss.backward()
                if self.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
                opt.step()
                info = {"train_loss": float(loss.detach()), **info}
                for k, v in info.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_batches += 1
            record: dict[str, Any] = {"epoch": epoch, "lr": opt.param_groups[0]["lr"]}
            record.update({k: v / max(n_batches, 1) for k, v in sums.items()})
            sched.step()
            self.model.eval()
            record.update(self.evaluate())
            result.history.append(record)
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in ("train_loss", "nfe", monitor)})
            key = monitor if monitor in record else "train_loss"
            if record[key] < result.best_loss:
                result.best_loss, result.best_epoch, bad_epochs = float(record[key]), epoch, 0
                best_state = copy.deepcopy(self.model.state_dict())
            else:
                bad_epochs += 1
            stop = self.patience is not None and bad_epochs >= self.patience
            self._write_outputs(epoch, opt, sched, best_state, result, bad_epochs,
                                force=stop or epoch == self.epochs - 1)
            if stop:
                result.stopped_early = True
                break
        bar.close()
        if self.restore_best and best_state is not None:
            self.model.load_state_dict(best_state)
        return result

    def _write_outputs(self, epoch: int, opt: torch.optim.Optimizer, sched: Any,
                       best_state: dict[str, torch.Tensor] | None, result: TrainResult, bad_epochs: int,
                       force: bool) -> None:
        if self.out_dir is None:
            return
        write_jsonl(self.out_dir / METRICS_NAME, result.history)
        if force or (epoch + 1) % self.checkpoint_every == 0:
            save_checkpoint(self.out_dir / CHECKPOINT_NAME, {
                "epoch": epoch, "model": self.model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "best_model": best_state, "best_epoch": result.best_epoch,
                "best_loss": result.best_loss, "bad_epochs": bad_epochs, "history": result.history,
                "rng": capture_rng_state(self.data_generator)})
            if best_state is not None:
                save_checkpoint(self.out_dir / BEST_NAME, {"model": best_state, "epoch": result.best_epoch})
            plot_loss_curve(result.history, self.out_dir / PLOT_NAME)
