"""RolloutTrainer: loss reduction, exact resume, checkpoints, metrics and error handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import pysciml.systems as systems
from pysciml.data import TrajectoryData
from pysciml.errors import CheckpointError, InputTypeError, ValidationError
from pysciml.regularizers import JacobianAD, JacobianFrobenius, KineticEnergy
from pysciml.training import RolloutTrainer, load_checkpoint, model_kind


class MLPField(nn.Module):
    def __init__(self, dim: int, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim)).double()

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


class MidpointRollout(nn.Module):
    """Test fixture: a rollout model forward(y0, t) doing one explicit-midpoint step per sample interval."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.vector_field = MLPField(dim)
        self.last_nfe = 0

    def forward(self, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ys, y = [y0], y0
        for k in range(t.shape[1] - 1):
            h = (t[:, k + 1] - t[:, k])[:, None]
            mid = y + 0.5 * h * self.vector_field(t[:, k], y)
            y = y + h * self.vector_field(t[:, k] + 0.5 * h[:, 0], mid)
            ys.append(y)
        self.last_nfe = 2 * (t.shape[1] - 1)
        return torch.stack(ys, dim=1)


def _two_body_data(n: int = 6, steps: int = 21, dt: float = 0.05) -> TrajectoryData:
    from scipy.integrate import solve_ivp

    system = systems.get("two_body")
    y0 = system.initial_conditions(n, seed=0)
    t = np.arange(steps) * dt
    ys = [solve_ivp(lambda tt, y: system.rhs(tt, y[None])[0], (0, t[-1]), y, t_eval=t, rtol=1e-10,
                    atol=1e-10).y.T for y in y0]
    return TrajectoryData(t, np.stack(ys))


def _trainer(out_dir, epochs: int, **kw) -> RolloutTrainer:
    torch.manual_seed(0)
    model = MidpointRollout(4)
    data = _two_body_data()
    train, val = data.split([0.67, 0.33], seed=0)
    system = systems.get("two_body")
    regs = [JacobianAD(system.rhs_torch, weight=1e-3, n_samples=2), KineticEnergy(weight=1e-4)]
    return RolloutTrainer(model, train, val, window=3, batch_size=16, lr=3e-3, lr_decay=0.95,
                          clip_grad_norm=1.0, epochs=epochs, checkpoint_every=2, out_dir=out_dir, seed=3,
                          progress=False, regularizers=regs, **kw)


def test_model_kind_detection():
    assert model_kind(MLPField(2)) == "field"
    assert model_kind(MidpointRollout(2)) == "rollout"
    with pytest.raises(InputTypeError, match="kind="):
        model_kind(nn.Linear(2, 2))


def test_training_reduces_loss_and_writes_outputs(tmp_path):
    trainer = _trainer(tmp_path, epochs=6)
    result = trainer.fit()
    hist = result.history
    assert hist[-1]["traj_loss"] < 0.9 * hist[0]["traj_loss"]
    assert all(r["nfe"] == 4 for r in hist)
    assert hist[1]["lr"] == pytest.approx(3e-3 * 0.95)
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(6))
    assert (tmp_path / "loss_curve.png").stat().st_size > 0
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["epoch"] == 5
    best = min(range(6), key=lambda e: hist[e]["val_loss"])
    assert result.best_epoch == best
    for k, v in trainer.model.state_dict().items():  # best model restored
        torch.testing.assert_close(v, ckpt["best_model"][k])


def test_resume_reproduces_uninterrupted_run_exactly(tmp_path):
    full = _trainer(tmp_path / "full", epochs=6, restore_best=False)
    full_result = full.fit()
    part = _trainer(tmp_path / "part", epochs=4, restore_best=False)
    part.fit()  # "interrupted" after 4 epochs (checkpoint at epoch 3)
    torch.manual_seed(1234)  # disturb global RNG; resume must restore it
    np.random.seed(99)  # noqa: NPY002 - the legacy global state is what resume restores
    resumed = _trainer(tmp_path / "part", epochs=6, restore_best=False)
    resumed_result = resumed.fit(resume=True)
    resumed_state = resumed.model.state_dict()
    for k, a in full.model.state_dict().items():
        assert torch.equal(a, resumed_state[k]), k
    assert [r["train_loss"] for r in full_result.history] == [r["train_loss"] for r in resumed_result.history]


def test_resume_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        _trainer(tmp_path, epochs=1).fit(resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="could not be read"):
        _trainer(tmp_path, epochs=1).fit(resume=True)


def test_regularizer_requirements_and_early_stopping(tmp_path):
    data = _two_body_data(n=3, steps=6)
    rollout_without_field = MidpointRollout(4)
    del rollout_without_field.vector_field
    rollout_without_field.register_module("f", MLPField(4))
    with pytest.raises(ValidationError, match="vector_field"):
        RolloutTrainer(rollout_without_field, data, regularizers=[KineticEnergy()], kind="rollout")
    with pytest.raises(InputTypeError, match="regularizers"):
        RolloutTrainer(MidpointRollout(4), data, regularizers=[lambda f, x, t: 0])
    model = MidpointRollout(4)
    trainer = RolloutTrainer(model, data, data, epochs=50, patience=2, lr=1.0, lr_decay=0.1, progress=False,
                             regularizers=[JacobianFrobenius(weight=1e-3)])
    result = trainer.fit()
    assert result.stopped_early and len(result.history) < 50


def test_val_stride_gives_non_overlapping_chunks():
    data = _two_body_data(n=2, steps=21)
    model = MLPField(4).double()
    chunked = RolloutTrainer(model, data, data, window=3, stride=2, val_window=3, val_stride=2, progress=False)
    overlapping = RolloutTrainer(model, data, data, window=3, stride=2, val_window=3, progress=False)
    # 21 samples: chunks start at 0, 2, ..., 18 (10 per trajectory), sharing only their end points
    assert chunked.val[1].shape == (2 * 10, 3, 4) and overlapping.val[1].shape == (2 * 19, 3, 4)
    torch.testing.assert_close(chunked.val[1][1, 0], chunked.val[1][0, -1])
    torch.testing.assert_close(chunked.val[1], chunked.train_ys)
    with pytest.raises(ValidationError, match="val_stride"):
        RolloutTrainer(model, data, data, window=3, val_stride=0, progress=False)
