"""Evaluation of trained models.

Classifiers — robustness (:mod:`.robustness`, :mod:`.attacks`, :mod:`.boundary`): :func:`fgsm`, :func:`pgd`,
:func:`adversarial_curve`, :func:`noise_curve`, :func:`decision_boundary_distance`, :func:`robustness_report`
and the plots :func:`plot_accuracy_curves`, :func:`plot_boundary_distances`.

Learned dynamical systems (Janvier et al., arXiv:2602.04608; Alvarez Loya et al., arXiv:2503.01775):

* :mod:`.rollout` — chunked long rollouts and their metrics: ``R_e(θ, t)``, ``L_traj``, divergence times, final
  errors; :mod:`.conservation` — conservation errors of the systems' invariants;
* :mod:`.field_errors` — offline error ``ε_θ`` and Jacobian error ``J_e`` (exact or Hutchinson);
* :mod:`.statistics` — Kuramoto–Sivashinsky statistics: joint PDF of ``(u_x, u_xx)``, Hellinger / KL distances,
  energy spectrum, autocorrelation;
* :mod:`.report` — stability and rollout reports written as JSON + figures.
"""

from __future__ import annotations

from .conservation import ConservationError, conservation_errors
from .field_errors import JacobianError, OfflineError, evaluation_points, jacobian_error, offline_error
from .report import certificates, rollout_report, stability_report
from .robustness import (
    ATTACKS,
    AccuracyCurve,
    BoundaryDistances,
    accuracy,
    adversarial_curve,
    decision_boundary_distance,
    fgsm,
    noise_curve,
    pgd,
    robustness_report,
    sphere_search_bias,
)
from .robustness_plots import curve_band, plot_accuracy_curves, plot_boundary_distances
from .rollout import (
    RolloutEvaluation,
    TrajectoryLoss,
    evaluate_rollout,
    relative_error,
    rollout,
    time_to_divergence,
    trajectory_loss,
)
from .statistics import (
    JointPDF,
    autocorrelation,
    energy_spectrum,
    hellinger,
    joint_pdf,
    kl_divergence,
    pdf_grid,
    spectral_derivatives,
)

__all__ = [
    "ATTACKS", "AccuracyCurve", "BoundaryDistances", "ConservationError", "JacobianError", "JointPDF",
    "OfflineError", "RolloutEvaluation", "TrajectoryLoss", "accuracy", "adversarial_curve", "autocorrelation",
    "certificates", "conservation_errors", "curve_band", "decision_boundary_distance", "energy_spectrum",
    "evaluate_rollout", "evaluation_points", "fgsm", "hellinger", "jacobian_error", "joint_pdf", "kl_divergence",
    "noise_curve", "offline_error", "pdf_grid", "pgd", "plot_accuracy_curves", "plot_boundary_distances",
    "relative_error", "robustness_report", "rollout", "rollout_report", "sphere_search_bias",
    "spectral_derivatives", "stability_report", "time_to_divergence", "trajectory_loss",
]
