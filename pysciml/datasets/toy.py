"""Two-dimensional binary classification sets of Josias & Brink, "Jacobian Norm Regularisation and
Conditioning in Neural ODEs" (SACAIR 2022, doi:10.1007/978-3-031-22321-1_3): intertwining moons (their
Fig. 3), spiral, annulus and broken annulus (their Fig. 9).

The paper shows the sets but gives no formulas or sizes; the definitions here are ours, chosen to look like its
figures:

* ``moons``: class 0 on ``(cos t, sin t)``, class 1 on ``(1 − cos t, ½ − sin t)``, ``t ~ U[0, π]``.
* ``spiral``: two arms ``r (cos θ, sin θ)`` with ``r = r0 + (1 − r0) s``, ``θ = 2π·turns·s + kπ`` for class
  ``k``, ``s ~ U[0, 1]``.
* ``annulus``: class 0 uniform (in area) on the disc ``r ≤ r1``, class 1 uniform on the ring
  ``r2 ≤ r ≤ r3`` (``r1 < r2``). The ring encloses the disc, so a neural ODE (a homeomorphism of the plane)
  cannot make the classes linearly separable without moving the disc through the ring — the pathological case.
* ``broken_annulus``: the annulus with the angular sector of width ``gap`` centred at ``gap_center`` removed
  from the ring, leaving the disc a way out.

Every set is class-balanced (sizes split as evenly as possible), gets isotropic Gaussian noise of standard
deviation ``noise`` (coordinate units) added, and is deterministic in ``seed``: the training set is drawn from
``numpy.random.default_rng([seed, 0])`` and the test set, independently, from ``default_rng([seed, 1])``, so
changing ``n_test`` leaves the training set unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..errors import ValidationError
from ..validation import check_choice, check_positive_int
from .base import ClassificationData

__all__ = ["TOY_DATASETS", "annulus", "broken_annulus", "moons", "spiral", "toy_dataset"]

Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


def _check_nonneg(value: float, name: str) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _class_counts(n: int, n_classes: int = 2) -> list[int]:
    return [n // n_classes + int(c < n % n_classes) for c in range(n_classes)]


def _uniform_radius(rng: np.random.Generator, n: int, r_in: float, r_out: float) -> np.ndarray:
    """Radii of points uniform in area on the ring ``r_in ≤ r ≤ r_out``."""
    return np.sqrt(rng.uniform(r_in**2, r_out**2, n))


def _polar(r: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _build(name: str, sampler: Sampler, n_train: int, n_test: int, noise: float, seed: int,
           dtype: torch.dtype | None, params: dict[str, Any]) -> ClassificationData:
    n_train = check_positive_int(n_train, "n_train", minimum=2)
    n_test = check_positive_int(n_test, "n_test", minimum=2)
    noise = _check_nonneg(noise, "noise")
    seed = int(seed)
    parts = []
    for part, n in ((0, n_train), (1, n_test)):
        rng = np.random.default_rng([seed, part])
        x, y = sampler(rng, n)
        x = x + noise * rng.standard_normal(x.shape)
        order = rng.permutation(n)
        parts += [x[order], y[order]]
    meta = {"name": name, "n_train": n_train, "n_test": n_test, "noise": noise, "seed": seed, **params}
    return ClassificationData.from_numpy(*parts, num_classes=2, meta=meta, dtype=dtype)


def moons(n_train: int = 1000, n_test: int = 500, noise: float = 0.1, seed: int = 0,
          dtype: torch.dtype | None = None) -> ClassificationData:
    """Intertwining moons: ``x [n, 2]``, labels 0 (upper moon) and 1 (lower moon)."""

    def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        n0, n1 = _class_counts(n)
        t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
        upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
        lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
        return np.concatenate([upper, lower]), np.repeat([0, 1], [n0, n1])

    return _build("moons", sample, n_train, n_test, noise, seed, dtype, {})


def spiral(n_train: int = 1000, n_test: int = 500, noise: float = 0.03, turns: float = 1.5,
           r0: float = 0.1, seed: int = 0, dtype: torch.dtype | None = None) -> ClassificationData:
    """Two interleaved spiral arms of ``turns`` revolutions from radius ``r0`` to 1: ``x [n, 2]``, labels 0/1.

    Neighbouring arms are ``(1 − r0)/(2·turns)`` apart radially (0.3 with the defaults).
    """
    turns = float(turns)
    if not turns > 0:
        raise ValidationError(f"turns must be > 0, got {turns!r}")
    if not 0 <= r0 < 1:
        raise ValidationError(f"r0 must be in [0, 1), got {r0!r}")

    def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        counts = _class_counts(n)
        arms = []
        for k, m in enumerate(counts):
            s = rng.uniform(0, 1, m)
            arms.append(_polar(r0 + (1 - r0) * s, 2 * np.pi * turns * s + k * np.pi))
        return np.concatenate(arms), np.repeat([0, 1], counts)

    return _build("spiral", sample, n_train, n_test, noise, seed, dtype, {"turns": turns, "r0": float(r0)})


def _check_radii(radii: tuple[float, float, float]) -> tuple[float, float, float]:
    try:
        r1, r2, r3 = (float(r) for r in radii)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"radii must be three numbers (r1, r2, r3), got {radii!r}") from exc
    if not 0 < r1 < r2 < r3:
        raise ValidationError(f"radii must satisfy 0 < r1 < r2 < r3 (disc radius, ring inner and outer radius), "
                              f"got {radii!r}")
    return r1, r2, r3


def _annulus_sampler(radii: tuple[float, float, float], gap: float, gap_center: float) -> Sampler:
    r1, r2, r3 = radii

    def sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        n0, n1 = _class_counts(n)
        disc = _polar(_uniform_radius(rng, n0, 0.0, r1), rng.uniform(0, 2 * np.pi, n0))
        theta = gap_center + gap / 2 + rng.uniform(0, 2 * np.pi - gap, n1)
        ring = _polar(_uniform_radius(rng, n1, r2, r3), theta)
        return np.concatenate([disc, ring]), np.repeat([0, 1], [n0, n1])

    return sample


def annulus(n_train: int = 1000, n_test: int = 500, noise: float = 0.0,
            radii: tuple[float, float, float] = (0.5, 1.0, 1.5), seed: int = 0,
            dtype: torch.dtype | None = None) -> ClassificationData:
    """Disc ``r ≤ r1`` (label 0) inside the ring ``r2 ≤ r ≤ r3`` (label 1), ``x [n, 2]``; not linearly separable."""
    r = _check_radii(radii)
    return _build("annulus", _annulus_sampler(r, 0.0, 0.0), n_train, n_test, noise, seed, dtype,
                  {"radii": list(r)})


def broken_annulus(n_train: int = 1000, n_test: int = 500, noise: float = 0.0,
                   radii: tuple[float, float, float] = (0.5, 1.0, 1.5), gap: float = math.pi / 2,
                   gap_center: float = 0.0, seed: int = 0, dtype: torch.dtype | None = None
                   ) -> ClassificationData:
    """The annulus with the ring's sector ``|θ − gap_center| < gap/2`` (radians) removed, ``x [n, 2]``."""
    r = _check_radii(radii)
    gap = float(gap)
    if not 0 < gap < 2 * math.pi:
        raise ValidationError(f"gap (angular width of the removed sector, radians) must be in (0, 2π), got {gap!r}")
    return _build("broken_annulus", _annulus_sampler(r, gap, float(gap_center)), n_train, n_test, noise, seed,
                  dtype, {"radii": list(r), "gap": gap, "gap_center": float(gap_center)})


TOY_DATASETS: dict[str, Callable[..., ClassificationData]] = {
    "moons": moons, "spiral": spiral, "annulus": annulus, "broken_annulus": broken_annulus,
}


def toy_dataset(name: str, **kwargs: Any) -> ClassificationData:
    """Build a toy set by name (``moons``, ``spiral``, ``annulus``, ``broken_annulus``) with its keyword options."""
    return TOY_DATASETS[check_choice(name, "toy dataset", TOY_DATASETS)](**kwargs)
