"""Trainers for neural ODEs: trajectory rollouts (seed 001) and classification (seed 000).

:class:`RolloutTrainer` and :class:`ClassifierTrainer` share one loop (:class:`Trainer`: Adam, clipping,
validation, best model, JSON-lines metrics with every loss term separately, atomic checksummed checkpoints,
exact resume, ``device=``, dtype checks, divergence detection). Extend it with :mod:`callbacks
<pysciml.training.callbacks>` (:class:`EarlyStopping`, :class:`ExponentialDecay` / :class:`LRScheduler` per
step or epoch, :class:`ProjectionHook`). :func:`load_model` rebuilds a model from a checkpoint;
:class:`SNetTrainer` trains by the spectral relaxation of Quaglino et al. (arXiv:1906.07038), δ-SNet
and α-SNet; :class:`InputRolloutTrainer` is its backprop-through-solver / adjoint baseline for input-driven
fields. :func:`train_from_config` drives ``pysciml train CONFIG.toml``.
"""

from __future__ import annotations

from .base import Trainer, TrainingDiverged, TrainResult
from .callbacks import Callback, EarlyStopping, ExponentialDecay, LRScheduler, ProjectionHook, StabilizePenalty
from .checkpoint import capture_rng_state, load_checkpoint, load_model, restore_rng_state, save_checkpoint
from .classifier import ClassifierTrainer
from .input_rollout import InputRolloutTrainer, rollout_mse, rollout_with_input, simulate_with_inputs
from .metrics import plot_loss_curve, write_jsonl
from .rollout import RolloutTrainer, model_kind
from .snet import SNetResult, SNetTrainer

__all__ = ["Callback", "ClassifierTrainer", "EarlyStopping", "ExponentialDecay", "InputRolloutTrainer",
           "LRScheduler", "ProjectionHook", "RolloutTrainer", "SNetResult", "SNetTrainer", "StabilizePenalty",
           "TrainResult", "Trainer", "TrainingDiverged", "capture_rng_state", "load_checkpoint", "load_model",
           "model_kind", "plot_loss_curve", "restore_rng_state", "rollout_mse", "rollout_with_input",
           "save_checkpoint", "simulate_with_inputs", "write_jsonl"]
