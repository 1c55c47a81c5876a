"""Evaluation of trained models.

Robustness of classifiers (:mod:`pysciml.evaluation.robustness`): :func:`fgsm`, :func:`pgd`,
:func:`adversarial_curve`, :func:`noise_curve`, :func:`decision_boundary_distance`, :func:`robustness_report`
and the plots :func:`plot_accuracy_curves`, :func:`plot_boundary_distances`.
"""

from __future__ import annotations

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

__all__ = [
    "ATTACKS", "AccuracyCurve", "BoundaryDistances", "accuracy", "adversarial_curve", "curve_band",
    "decision_boundary_distance", "fgsm", "noise_curve", "pgd", "plot_accuracy_curves", "plot_boundary_distances",
    "robustness_report", "sphere_search_bias",
]
