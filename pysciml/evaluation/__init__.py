"""Evaluation of learned dynamical systems: long-rollout metrics, field and Jacobian errors, conservation errors,
chaotic statistics (Kuramoto–Sivashinsky) and stability reports."""

from __future__ import annotations

from .conservation import ConservationError, conservation_errors
from .field_errors import JacobianError, OfflineError, evaluation_points, jacobian_error, offline_error
from .rollout import (
    RolloutEvaluation,
    TrajectoryLoss,
    evaluate_rollout,
    relative_error,
    rollout,
    time_to_divergence,
    trajectory_loss,
)

__all__ = ["ConservationError", "JacobianError", "OfflineError", "RolloutEvaluation", "TrajectoryLoss",
           "conservation_errors", "evaluate_rollout", "evaluation_points", "jacobian_error", "offline_error",
           "relative_error", "rollout", "time_to_divergence", "trajectory_loss"]
