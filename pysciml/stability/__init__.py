"""Stability analysis of linear operators and neural ODEs (seeds 000, 002, 003; methods.md §1, §7).

* :func:`log_norm` — logarithmic norms μ_1, μ_2, μ_∞;
* :func:`contractivity_delta`, :func:`flow_lipschitz_bound` — ``max_{α≤D≤1} μ_2(DA)`` for ``u' = σ(Au + b)``;
* :func:`delta_upper_bound` — certified upper bound on δ;
* :func:`stabilize`, :func:`stabilize_node`, :class:`StabilizeHook` — minimal Frobenius-norm perturbation;
  :func:`identity_shift` — the scaled-identity baseline;
* :func:`spectral_abscissa`, :func:`numerical_abscissa`, :func:`transient_growth`,
  :func:`jacobian_spectra`, :func:`trajectory_jacobians`, :func:`stiffness_index`.
"""

from __future__ import annotations

from .contractivity import (
    MAX_EXACT_DIM,
    ContractivityResult,
    contractivity_delta,
    delta_upper_bound,
    flow_lipschitz_bound,
)
from .hooks import StabilizeHook, stabilize_node
from .lognorm import log_norm
from .spectra import (
    StiffnessIndex,
    TransientGrowth,
    jacobian_spectra,
    numerical_abscissa,
    spectral_abscissa,
    stiffness_index,
    trajectory_jacobians,
    transient_growth,
)
from .stabilize import StabilizationResult, identity_shift, stabilize

__all__ = [
    "MAX_EXACT_DIM", "ContractivityResult", "StabilizationResult", "StabilizeHook", "StiffnessIndex",
    "TransientGrowth", "contractivity_delta", "delta_upper_bound", "flow_lipschitz_bound", "identity_shift",
    "jacobian_spectra", "log_norm", "numerical_abscissa", "spectral_abscissa", "stabilize", "stabilize_node",
    "stiffness_index", "trajectory_jacobians", "transient_growth",
]
