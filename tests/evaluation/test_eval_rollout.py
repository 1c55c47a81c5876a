"""Rollout metrics: exact zeros for the true field, closed-form values, divergence handling, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pysciml import odeint, systems
from pysciml.errors import ValidationError
from pysciml.evaluation import evaluate_rollout, relative_error, rollout, time_to_divergence, trajectory_loss
from pysciml.models import Autoencoder, HurwitzLinear, LipschitzMLP, StructurePreservingNODE

DT = 0.01


@pytest.fixture(scope="module")
def two_body_truth() -> tuple[systems.System, np.ndarray, np.ndarray]:
    """8 two-body trajectories, 600 RK4 steps of 0.01 (the data the true field reproduces exactly)."""
    tb = systems.get("two_body")
    y0 = torch.as_tensor(tb.initial_conditions(8, seed=3))
    t = torch.arange(601, dtype=torch.float64) * DT
    ys = odeint(tb.rhs_torch, y0, t, method="rk4", step_size=DT).ys
    return tb, t.numpy(), ys.numpy()


@pytest.mark.parametrize("chunk_size", [None, 3, 77])
def test_true_field_has_zero_errors(two_body_truth, chunk_size):
    tb, t, ys = two_body_truth
    ev = evaluate_rollout(tb.rhs_torch, (t, ys), system=tb, chunk_size=chunk_size)
    assert np.max(np.abs(ev.rel_error)) <= 1e-13
    assert ev.loss.total <= 1e-24 and ev.loss.mean <= 1e-27
    assert np.all(np.isnan(ev.divergence_time))
    assert ev.loss.n_nonfinite == 0


def test_rollout_chunks_match_one_call(two_body_truth):
    tb, t, ys = two_body_truth
    t, ys = t[:201], ys[:, :201]
    y0 = torch.as_tensor(ys[:, 0])
    whole = rollout(tb.rhs_torch, y0, t, method="dopri5", rtol=1e-9, atol=1e-12)
    chunked = rollout(tb.rhs_torch, y0, t, method="dopri5", rtol=1e-9, atol=1e-12, chunk_size=60)
    assert whole.shape == chunked.shape == ys.shape
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-7)
    # and both approximate the RK4 data to the accuracy of RK4 at dt = 0.01
    assert float((whole - torch.as_tensor(ys)).abs().max()) < 1e-5


def test_latent_model_chunking_carries_the_latent_state():
    torch.manual_seed(0)
    ae = Autoencoder(4, 3, hidden=16, layers=1).double()
    model = StructurePreservingNODE(ae.encoder, HurwitzLinear(3).double(), LipschitzMLP(3, 3, 16).double(),
                                    decoder=ae.decoder, method="etd1", step_size=0.05)
    y0 = torch.randn(5, 4, dtype=torch.float64)
    t = torch.arange(41, dtype=torch.float64) * 0.05
    with torch.no_grad():
        direct = model(y0, t)
    torch.testing.assert_close(rollout(model, y0, t, chunk_size=7), direct, rtol=1e-12, atol=1e-12)


def test_constant_offset_gives_closed_form_loss(two_body_truth):
    _, _, ys = two_body_truth
    c = np.array([0.1, -0.2, 0.0, 0.3])
    loss = trajectory_loss(ys + c, ys)
    n, n_t, d = ys.shape
    assert loss.total == pytest.approx(n * n_t * float(c @ c), rel=1e-10)  # seed 001 eq. 2: sum over i = 0..N
    assert loss.mean == pytest.approx(float(c @ c) / d, rel=1e-10)
    r = relative_error(ys + c, ys)
    np.testing.assert_allclose(r, np.linalg.norm(c) / np.linalg.norm(ys, axis=-1), rtol=1e-12)


def test_time_to_divergence_and_nonfinite():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    r = np.array([[0.0, 0.5, 2.0, 0.1], [0.0, 0.1, 0.2, 0.3], [0.0, np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(time_to_divergence(r, t, 1.0), [2.0, np.nan, 1.0])
    assert relative_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0])) == math.inf
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


class _PartlyExploding(torch.nn.Module):
    """The true two-body field, plus y³ growth for trajectories that start at x > 0.4 (they blow up)."""

    def __init__(self, tb: systems.System) -> None:
        super().__init__()
        self.tb = tb

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        boost = (y[:, :1] > 0.4).to(y.dtype) * 50.0 * y ** 3
        return self.tb.rhs_torch(t, y) + boost


def test_diverged_rollouts_are_reported_not_averaged(two_body_truth):
    tb, t, ys = two_body_truth
    bad = ys[:, 0, 0] > 0.4
    assert 0 < bad.sum() < len(bad)
    ev = evaluate_rollout(_PartlyExploding(tb), (t, ys), system=tb, chunk_size=50)
    assert np.all(np.isfinite(ev.divergence_time[bad])) and np.all(np.isnan(ev.divergence_time[~bad]))
    assert np.all(np.isinf(ev.rel_error[bad, -1]))
    assert np.max(ev.rel_error[~bad]) <= 1e-13  # the others are untouched by the blown-up rows
    assert ev.loss.total == math.inf and ev.loss.n_nonfinite == int(bad.sum())
    assert ev.loss.total_finite <= 1e-24
    summary = ev.summary(max_points=100)
    text = json.dumps(summary, allow_nan=False)  # no NaN/Inf anywhere: non-finite values are null
    assert summary["divergence"]["n_diverged"] == int(bad.sum())
    assert summary["relative_error"]["n_finite"][-1] == int((~bad).sum())
    assert summary["relative_error"]["mean_finite"][-1] <= 1e-13
    assert summary["relative_error"]["q95"][-1] is None  # a quantile that is a blown-up trajectory: +inf -> null
    assert '"trajectory_loss"' in text


def test_bad_input_is_rejected(two_body_truth):
    tb, t, ys = two_body_truth
    with pytest.raises(ValidationError, match="horizon"):
        evaluate_rollout(tb.rhs_torch, (t, ys), system=tb, horizon=len(t))
    with pytest.raises(ValidationError, match="dimension"):
        evaluate_rollout(tb.rhs_torch, (t, ys[..., :3]), system=tb)
    with pytest.raises(ValidationError, match="dimension"):
        evaluate_rollout(lambda s, y: y[:, :3], (t, ys))
    nan_start = ys.copy()
    nan_start[0, 0, 0] = np.nan
    with pytest.raises(ValidationError, match="non-finite states"):
        evaluate_rollout(tb.rhs_torch, (t, nan_start))
    with pytest.raises(ValidationError, match="threshold"):
        evaluate_rollout(tb.rhs_torch, (t, ys), threshold=-1.0)
    ev = evaluate_rollout(tb.rhs_torch, (t, ys), system=tb, horizon=10)
    assert ev.rel_error.shape == (ys.shape[0], 11)


class _SelfIntegrating(torch.nn.Module):
    """A rollout model ``forward(y0, t) -> [B, T, d]`` (integrates the true field itself)."""

    def __init__(self, tb: systems.System) -> None:
        super().__init__()
        self.tb = tb

    def forward(self, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return odeint(self.tb.rhs_torch, y0, t, method="rk4", step_size=DT).ys


def test_rollout_model_is_restarted_at_chunk_boundaries(two_body_truth):
    tb, t, ys = two_body_truth
    model = _SelfIntegrating(tb)
    ev = evaluate_rollout(model, (t, ys), system=tb, horizon=100, chunk_size=30)
    assert np.max(ev.rel_error) <= 1e-13
    with pytest.raises(ValidationError, match="integrates itself"):
        evaluate_rollout(model, (t, ys), method="rk4")
