"""Stability-aware neural-ODE models (seeds 000, 002, 003).

* :class:`HurwitzLinear` — ``A = (J − R)Q − γI`` with ``Re λ < −γ`` (seed 003);
* :class:`LipschitzMLP` — certified Lipschitz network; :class:`BilinearLowRank` — quadratic low-rank ``N``;
* :class:`Autoencoder`, :class:`StructurePreservingNODE` — latent ``z' = Az + N(z)`` with ETD/IMEX;
* :class:`StableNODE`, :class:`SlopeBoundedActivation` — ``u' = σ(Au + b)``, ``σ' ∈ [α, 1]`` (seed 002);
* :class:`NeuralODEClassifier`, :class:`MLPVectorField`;
* :class:`VehicleSurrogate`, :class:`MultiAgentKinematics` — structured SNet surrogates (Quaglino et al.,
  arXiv:1906.07038, §5–6), :class:`with_input` to integrate a field ``f(t, x, u)`` with a per-trajectory input.
"""

from __future__ import annotations

from .autoencoder import Autoencoder
from .bilinear import BilinearLowRank
from .classifier import NeuralODEClassifier
from .hurwitz import HurwitzLinear
from .lipschitz import LipschitzMLP, schur_bound
from .mlp import MLPVectorField
from .snet_surrogates import MultiAgentKinematics, VehicleSurrogate, with_input
from .stable_node import SlopeBoundedActivation, StableNODE
from .structure_preserving import StructurePreservingNODE

__all__ = [
    "Autoencoder", "BilinearLowRank", "HurwitzLinear", "LipschitzMLP", "MLPVectorField", "MultiAgentKinematics",
    "NeuralODEClassifier", "SlopeBoundedActivation", "StableNODE", "StructurePreservingNODE", "VehicleSurrogate",
    "schur_bound", "with_input",
]
