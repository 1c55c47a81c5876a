"""Toy 2-D sets: shapes, balance, determinism, geometry (annulus not linearly separable, broken annulus gap)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import Delaunay
from sklearn.linear_model import LogisticRegression

from pysciml.datasets import TOY_DATASETS, annulus, broken_annulus, moons, plot_toy_datasets, spiral, toy_dataset
from pysciml.errors import UnknownNameError, ValidationError


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_shapes_balance_and_determinism(name: str) -> None:
    d = toy_dataset(name, n_train=301, n_test=120, seed=3, dtype=torch.float64)
    assert d.x_train.shape == (301, 2) and d.x_test.shape == (120, 2) and d.x_train.dtype == torch.float64
    assert d.y_train.dtype == torch.int64 and d.num_classes == 2
    assert sorted(d.y_train.bincount().tolist()) == [150, 151] and d.y_test.bincount().tolist() == [60, 60]
    again = toy_dataset(name, n_train=301, n_test=120, seed=3, dtype=torch.float64)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)
    other = toy_dataset(name, n_train=301, n_test=120, seed=4, dtype=torch.float64)
    assert not torch.equal(other.x_train, d.x_train)
    # the test size does not change the training set; train and test are different draws
    assert torch.equal(toy_dataset(name, n_train=301, n_test=10, seed=3, dtype=torch.float64).x_train, d.x_train)
    assert not torch.allclose(d.x_train[:120], d.x_test)
    assert len(d.train_dataset()) == 301 and len(d.test_dataset()) == 120 and d.meta["name"] == name


def test_default_dtype_and_noise_scale() -> None:
    assert moons().x_train.dtype == torch.get_default_dtype()
    clean = moons(noise=0.0, dtype=torch.float64).x_train.numpy()
    noisy = moons(noise=0.2, dtype=torch.float64).x_train.numpy()
    assert np.std(noisy - clean) == pytest.approx(0.2, rel=0.1)  # same seed → same curve points


def test_moons_and_spiral_lie_on_their_curves_without_noise() -> None:
    d = moons(noise=0.0, dtype=torch.float64)
    x, y = d.x_train.numpy(), d.y_train.numpy()
    np.testing.assert_allclose(np.hypot(*x[y == 0].T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(x[y == 1, 0] - 1, x[y == 1, 1] - 0.5), 1.0, atol=1e-12)
    assert np.all(x[y == 0, 1] >= 0) and np.all(x[y == 1, 1] <= 0.5)
    s = spiral(noise=0.0, turns=1.5, r0=0.1, dtype=torch.float64)
    x, y = s.x_train.numpy(), s.y_train.numpy()
    r, theta = np.hypot(*x.T), np.arctan2(x[:, 1], x[:, 0])
    phase = 2 * np.pi * 1.5 * (r - 0.1) / 0.9 + np.pi * y  # the arm's angle at that radius
    np.testing.assert_allclose(np.cos(theta - phase), 1.0, atol=1e-9)


def test_annulus_geometry_and_not_linearly_separable() -> None:
    d = annulus(n_train=1000, noise=0.0, radii=(0.5, 1.0, 1.5), dtype=torch.float64)
    x, y = d.x_train.numpy(), d.y_train.numpy()
    r = np.hypot(*x.T)
    assert r[y == 0].max() <= 0.5 and r[y == 1].min() >= 1.0 and r[y == 1].max() <= 1.5
    # certificate: every disc point lies in the convex hull of the ring points, so no half-plane separates them
    assert np.all(Delaunay(x[y == 1]).find_simplex(x[y == 0]) >= 0)
    # and a logistic regression fails, while the same model on radial features separates perfectly
    linear = LogisticRegression().fit(x, y).score(x, y)
    radial = LogisticRegression().fit(x**2, y).score(x**2, y)
    assert linear < 0.75 and radial == 1.0


def test_broken_annulus_has_its_gap() -> None:
    gap, center = math.pi / 2, 1.0
    d = broken_annulus(n_train=2000, noise=0.0, gap=gap, gap_center=center, dtype=torch.float64)
    x, y = d.x_train.numpy(), d.y_train.numpy()
    ring = x[y == 1]
    offset = np.angle(np.exp(1j * (np.arctan2(ring[:, 1], ring[:, 0]) - center)))  # wrapped to (-π, π]
    assert np.abs(offset).min() >= gap / 2 - 1e-12
    # the rest of the ring is filled: no other empty sector wider than a few degrees
    angles = np.sort(np.mod(offset, 2 * np.pi))
    assert np.diff(angles).max() < math.radians(3)
    # the plain annulus has ring points in that sector
    full = annulus(n_train=2000, noise=0.0, dtype=torch.float64)
    ring_full = full.x_train.numpy()[full.y_train.numpy() == 1]
    assert np.any(np.abs(np.angle(np.exp(1j * (np.arctan2(ring_full[:, 1], ring_full[:, 0]) - center)))) < gap / 2)


@pytest.mark.parametrize("call", [
    lambda: moons(n_train=1), lambda: moons(noise=-0.1), lambda: spiral(turns=0), lambda: spiral(r0=1.0),
    lambda: annulus(radii=(1.0, 0.5, 1.5)), lambda: annulus(radii=(1.0,)), lambda: broken_annulus(gap=7.0),
    lambda: moons(dtype=torch.int64),
])
def test_bad_arguments(call) -> None:
    with pytest.raises(ValidationError):
        call()


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(UnknownNameError, match="broken_annulus"):
        toy_dataset("circles")


def test_plot(tmp_path) -> None:
    out = plot_toy_datasets({n: toy_dataset(n, n_train=50, n_test=10) for n in TOY_DATASETS}, tmp_path / "t.png")
    assert out.stat().st_size > 1000
    with pytest.raises(ValidationError):
        plot_toy_datasets({}, tmp_path / "e.png")
