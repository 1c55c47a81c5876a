"""Robustness of classifiers (Josias & Brink, "Jacobian Norm Regularisation and Conditioning in Neural ODEs",
SACAIR 2022, §3–5; De Marinis et al., "Stability of neural ordinary differential equations", FGSM comparison):
accuracy under adversarial (FGSM, PGD) and Gaussian perturbations as curves over the perturbation size,
distance to the decision boundary, and :func:`robustness_report`, which writes all of them as JSON and figures.

* :func:`adversarial_curve`: accuracy on ``attack(x, ε)`` for a grid of ``ε`` (ε = 0 is the clean accuracy).
* :func:`noise_curve`: accuracy on ``x + σ z``, ``z ~ N(0, I)``, for a grid of ``σ`` and ``n_draws`` draws.
* attacks (:func:`fgsm`, :func:`pgd`) and :func:`decision_boundary_distance` are re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import ValidationError
from ..io import atomic_path
from ..validation import check_choice, check_positive_int
from ._classifier import check_clip, check_inputs, check_levels, evaluating, predict
from .attacks import fgsm, pgd
from .boundary import BoundaryDistances, decision_boundary_distance, sphere_search_bias

__all__ = ["ATTACKS", "AccuracyCurve", "BoundaryDistances", "accuracy", "adversarial_curve",
           "decision_boundary_distance", "fgsm", "noise_curve", "pgd", "robustness_report", "sphere_search_bias"]

ATTACKS = ("fgsm", "pgd-linf", "pgd-l2")


@dataclass
class AccuracyCurve:
    """Accuracy ``[n_levels, n_draws]`` at perturbation sizes ``levels [n_levels]`` (ε or σ, input units)."""

    kind: str
    levels: np.ndarray
    accuracy: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> np.ndarray:
        return self.accuracy.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.accuracy.std(axis=1, ddof=1) if self.accuracy.shape[1] > 1 else np.zeros(len(self.levels))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "levels": self.levels.tolist(), "accuracy": self.accuracy.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist(), **self.meta}


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024) -> float:
    """Fraction of rows of ``x`` that ``model`` classifies as ``y`` (eval mode, no graph)."""
    x, y = check_inputs(model, x, y)
    with evaluating(model):
        return float((predict(model, x, y, batch_size) == y).double().mean())


def adversarial_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilons: Sequence[float], *,
                      attack: str = "fgsm", clip: tuple[float, float] | None = None, batch_size: int = 1024,
                      seed: int = 0, progress: bool = False, **pgd_options: Any) -> AccuracyCurve:
    """Accuracy on adversarial examples for each ``ε`` in ``epsilons`` (``attack``: fgsm, pgd-linf, pgd-l2).

    ``pgd_options`` (``steps``, ``step_size``, ``random_start``) go to :func:`pgd`; ``seed`` seeds its random
    start. Returns an :class:`AccuracyCurve` with one draw.
    """
    x, y = check_inputs(model, x, y)
    eps = check_levels(epsilons, "epsilons")
    attack = check_choice(attack, "attack", ATTACKS)
    if pgd_options and attack == "fgsm":
        raise ValidationError(f"options {sorted(pgd_options)} are for PGD attacks; FGSM takes none")
    acc = []
    for e in tqdm(eps, desc=attack, disable=not progress, leave=False):
        if attack == "fgsm":
            xa = fgsm(model, x, y, e, clip=clip, batch_size=batch_size)
        else:
            xa = pgd(model, x, y, e, norm=attack.split("-")[1], clip=clip, seed=seed, batch_size=batch_size,
                     **pgd_options)
        acc.append(accuracy(model, xa, y, batch_size=batch_size))
    return AccuracyCurve(attack, eps, np.asarray(acc)[:, None], {"clip": clip, **pgd_options})


def noise_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sigmas: Sequence[float], *, n_draws: int = 5,
                clip: tuple[float, float] | None = None, seed: int = 0, batch_size: int = 1024,
                progress: bool = False) -> AccuracyCurve:
    """Accuracy on ``x + σ z`` (``z ~ N(0, I)``, clamped to ``clip``) for each ``σ`` and ``n_draws`` draws.

    Draw ``j`` uses the same ``z`` at every ``σ`` (a generator seeded with ``seed``), so the curves are
    comparable across ``σ``; at ``σ = 0`` the inputs are exactly ``x`` and the accuracy is the clean one.
    """
    x, y = check_inputs(model, x, y)
    sig = check_levels(sigmas, "sigmas")
    n_draws = check_positive_int(n_draws, "n_draws")
    box = check_clip(clip, x)
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    acc = np.empty((sig.size, n_draws))
    for j in tqdm(range(n_draws), desc="noise", disable=not progress, leave=False):
        z = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
        for i, s in enumerate(sig):
            xn = x + float(s) * z
            acc[i, j] = accuracy(model, xn if box is None else xn.clamp(*box), y, batch_size=batch_size)
    return AccuracyCurve("gaussian", sig, acc, {"clip": clip, "n_draws": n_draws, "seed": int(seed)})


def _default_grid(x: torch.Tensor, top: float, n: int) -> np.ndarray:
    return float(x.std()) * top * np.linspace(0.0, 1.0, n)


def robustness_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor, out_dir: str | os.PathLike[str], *,
                      epsilons: Sequence[float] | None = None, sigmas: Sequence[float] | None = None,
                      attacks: Sequence[str] = ("fgsm", "pgd-linf"), n_draws: int = 5, n_directions: int = 100,
                      boundary_points: int | None = 500, clip: tuple[float, float] | None = None, seed: int = 0,
                      batch_size: int = 1024, label: str = "model", progress: bool = True) -> dict[str, Any]:
    """Evaluate ``model`` on test data ``(x, y)`` and write ``robustness.json`` and three figures to ``out_dir``.

    Figures: ``adversarial.png`` (accuracy vs ε per attack), ``noise.png`` (accuracy vs σ, mean ± std over
    draws), ``boundary_distance.png`` (box plot of the distances of the correctly classified points; not drawn
    when there is none).
    Defaults: ``epsilons`` 11 values from 0 to ``0.5·std(x)``, ``sigmas`` 11 values from 0 to ``std(x)``;
    ``boundary_points`` rows (a seeded random subset; ``None`` for all) get the distance search. Every file is
    written atomically. Returns the JSON content.
    """
    from .robustness_plots import plot_accuracy_curves, plot_boundary_distances

    x, y = check_inputs(model, x, y)
    eps = check_levels(_default_grid(x, 0.5, 11) if epsilons is None else epsilons, "epsilons")
    sig = check_levels(_default_grid(x, 1.0, 11) if sigmas is None else sigmas, "sigmas")
    attacks = [check_choice(a, "attack", ATTACKS) for a in attacks]
    out = Path(out_dir)
    adv = {a: adversarial_curve(model, x, y, eps, attack=a, clip=clip, batch_size=batch_size, seed=seed,
                                progress=progress) for a in attacks}
    noise = noise_curve(model, x, y, sig, n_draws=n_draws, clip=clip, seed=seed, batch_size=batch_size,
                        progress=progress)
    subset = torch.arange(x.shape[0])
    if boundary_points is not None and check_positive_int(boundary_points, "boundary_points") < x.shape[0]:
        subset = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(int(seed)))[:boundary_points]
        subset = subset.sort().values
    dist = decision_boundary_distance(model, x[subset.to(x.device)], y[subset.to(x.device)],
                                      n_directions=n_directions, seed=seed, batch_size=max(batch_size, n_directions))
    dim = int(x[0].numel())
    report = {
        "label": label, "n_samples": int(x.shape[0]), "clean_accuracy": accuracy(model, x, y, batch_size=batch_size),
        "adversarial": {a: c.to_dict() for a, c in adv.items()}, "noise": noise.to_dict(),
        "boundary_distance": {**dist.to_dict(), "indices": subset.tolist(),
                              "relative_bias_95": sphere_search_bias(dim, n_directions) if dim > 1 else 0.0},
    }
    if attacks:
        plot_accuracy_curves({f"{label} {a}": [c] for a, c in adv.items()}, out / "adversarial.png",
                             xlabel="perturbation budget ε (input units)", title="adversarial accuracy")
    plot_accuracy_curves({label: [noise]}, out / "noise.png", xlabel="noise standard deviation σ (input units)",
                         title="accuracy under Gaussian noise")
    if dist.selected(True).size:  # a model with no correctly classified point has no distance to draw
        plot_boundary_distances({label: [dist]}, out / "boundary_distance.png")
    with atomic_path(out / "robustness.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    return report
