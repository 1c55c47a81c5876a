"""Trainers for neural ODEs: trajectory rollouts (seed 001) and classification (seed 000).

:class:`RolloutTrainer` and :class:`ClassifierTrainer` share one loop (:class:`Trainer`: Adam, exponential
decay, clipping, validation, best model, early stopping, JSON-lines metrics, atomic checkpoints, exact
resume). :class:`SNetTrainer` trains by the spectral relaxation of Quaglino et al. (arXiv:1906.07038), δ-SNet
and α-SNet. :func:`train_from_config` drives ``pysciml train CONFIG.toml``.
"""

from __future__ import annotations

from .base import Trainer, TrainResult
from .checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .classifier import ClassifierTrainer
from .metrics import plot_loss_curve, write_jsonl
from .rollout import RolloutTrainer, model_kind
from .snet import SNetResult, SNetTrainer

__all__ = ["ClassifierTrainer", "RolloutTrainer", "TrainResult", "Trainer", "capture_rng_state",
           "load_checkpoint", "model_kind", "plot_loss_curve", "restore_rng_state", "save_checkpoint",
           "SNetResult", "SNetTrainer", "write_jsonl"]
