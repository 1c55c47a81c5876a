"""Callbacks: schedules per step/epoch, early stopping, projections (StabilizeHook on ClassifierTrainer), penalty
terms, exact resume with stateful callbacks, divergence status, dtype/device checks, metric logging."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import pysciml.systems as systems
from pysciml.data import TrajectoryData
from pysciml.errors import CheckpointError, InputTypeError, ValidationError
from pysciml.models import MLPVectorField, NeuralODEClassifier, StableNODE
from pysciml.regularizers import JacobianFrobenius
from pysciml.stability import StabilizeHook, contractivity_delta
from pysciml.training import (
    Callback,
    ClassifierTrainer,
    EarlyStopping,
    ExponentialDecay,
    ProjectionHook,
    RolloutTrainer,
    StabilizePenalty,
    load_checkpoint,
    load_model,
)
from pysciml.training.metrics import training_terms, validation_metrics


def _two_body(n: int = 4, steps: int = 11, dt: float = 0.05) -> TrajectoryData:
    from scipy.integrate import solve_ivp

    system = systems.get("two_body")
    t = np.arange(steps) * dt
    ys = [solve_ivp(lambda tt, y: system.rhs(tt, y[None])[0], (0, t[-1]), y0, t_eval=t, rtol=1e-10,
                    atol=1e-10).y.T for y0 in system.initial_conditions(n, seed=0)]
    return TrajectoryData(t, np.stack(ys))


class NoisyWeights(Callback):
    """Test callback with state and RNG use: adds N(0, s²) noise to the first parameter every other step."""

    def __init__(self, scale: float = 1e-4) -> None:
        self.scale, self.count = scale, 0

    def on_step(self, trainer, step):
        if step % 2 == 0:
            p = next(trainer.model.parameters())
            with torch.no_grad():
                p.add_(self.scale * torch.randn_like(p))
            self.count += 1

    def on_validation(self, trainer, record):
        record["noise_calls"] = self.count

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


class L2Penalty(Callback):
    """Test callback contributing a loss term."""

    def loss_terms(self, trainer, batch):
        return {"l2_loss": 1e-3 * sum(p.pow(2).sum() for p in trainer.model.parameters())}


def _clamp(module, step):
    for p in module.parameters():
        p.clamp_(-0.5, 0.5)


def _rollout_trainer(out_dir, epochs, **kw):
    torch.manual_seed(0)
    data = _two_body()
    train, val = data.split([0.5, 0.5], seed=0)
    callbacks = [ExponentialDecay(0.97, per="step"), EarlyStopping(patience=50), ProjectionHook(_clamp, every=3),
                 NoisyWeights(), L2Penalty()]
    return RolloutTrainer(MLPVectorField(4, hidden=8).double(), train, val, window=3, batch_size=8, lr=3e-3,
                          method="rk4", step_size=0.05, epochs=epochs, checkpoint_every=2, out_dir=out_dir,
                          seed=5, progress=False, callbacks=callbacks, restore_best=False, **kw)


def test_resume_with_callbacks_reproduces_uninterrupted_run_bit_for_bit(tmp_path):
    full = _rollout_trainer(tmp_path / "full", epochs=6)
    full_result = full.fit()
    _rollout_trainer(tmp_path / "part", epochs=4).fit()  # interrupted: last checkpoint after epoch 3
    torch.manual_seed(999)
    np.random.seed(7)  # noqa: NPY002 - disturb the global state resume restores
    resumed = _rollout_trainer(tmp_path / "part", epochs=6)
    resumed_result = resumed.fit(resume=True)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert full_result.history == resumed_result.history
    assert full.step == resumed.step == full_result.history[-1]["projections"] * 3
    assert resumed.callbacks[-2].count == full.callbacks[-2].count == full.step // 2
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]
    # with other callbacks the checkpoint is refused
    other = RolloutTrainer(MLPVectorField(4, hidden=8).double(), _two_body(), epochs=8, out_dir=tmp_path / "part",
                           progress=False, method="rk4", step_size=0.05)
    with pytest.raises(CheckpointError, match="callbacks"):
        other.fit(resume=True)


def test_schedules_per_step_and_per_epoch():
    data = _two_body(n=2)
    steps_per_epoch = -(-data.windows(2)[0].shape[0] // 4)
    for per, k in (("step", steps_per_epoch), ("epoch", 1)):
        trainer = RolloutTrainer(MLPVectorField(4, hidden=4).double(), data, batch_size=4, lr=1e-2, epochs=3,
                                 method="rk4", step_size=0.05, progress=False, callbacks=[ExponentialDecay(0.9, per)])
        hist = trainer.fit().history
        assert [r["lr"] for r in hist] == pytest.approx([1e-2 * 0.9 ** (k * e) for e in range(3)], rel=1e-12)
    with pytest.raises(ValidationError, match="either lr_decay"):
        RolloutTrainer(MLPVectorField(4).double(), data, lr_decay=0.5, callbacks=[ExponentialDecay(0.9)])
    with pytest.raises(InputTypeError, match="ProjectionHook"):
        RolloutTrainer(MLPVectorField(4).double(), data, callbacks=[_clamp])


def test_loss_terms_are_logged_separately_and_plotted_apart_from_validation(tmp_path):
    torch.manual_seed(0)
    data = _two_body(n=4)
    train, val = data.split([0.5, 0.5], seed=0)
    regs = [JacobianFrobenius(weight=1e-3, n_samples=1), JacobianFrobenius(weight=1e-2, estimator="exact")]
    trainer = RolloutTrainer(MLPVectorField(4, hidden=8).double(), train, val, window=2, batch_size=1000,
                             method="rk4", step_size=0.05, epochs=2, progress=False, regularizers=regs,
                             callbacks=[L2Penalty()], out_dir=tmp_path)
    hist = trainer.fit().history
    for rec in hist:  # one batch per epoch: the total is exactly the sum of its logged terms
        parts = rec["traj_loss"] + rec["reg_JacobianFrobenius"] + rec["reg_JacobianFrobenius_1"] + rec["l2_loss"]
        assert rec["train_loss"] == pytest.approx(parts, rel=1e-12)
    assert training_terms(hist) == ["train_loss", "traj_loss", "reg_JacobianFrobenius", "reg_JacobianFrobenius_1",
                                    "l2_loss"]
    assert validation_metrics(hist) == ["val_loss"]
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(hist))
    assert (tmp_path / "loss_curve.png").stat().st_size > 0


def _moons(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two noisy interleaved half circles (sklearn's make_moons, written out to spare its import)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    angle = torch.rand(n, generator=g, dtype=torch.float64) * torch.pi
    x = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    x = torch.where(labels[:, None] == 1, torch.stack([1 - x[:, 0], 0.5 - x[:, 1]], dim=1), x)
    return x + 0.1 * torch.randn(n, 2, generator=g, dtype=torch.float64), labels


def _stable_classifier(hooks, seed=0, epochs=3, lr=1e-2):
    torch.manual_seed(seed)
    field = StableNODE(2, alpha=0.2)
    with torch.no_grad():
        field.A.copy_(torch.tensor([[1.0, 0.5], [-0.2, 0.8]]))  # expansive start: delta > 0
    model = NeuralODEClassifier(field, 2, t1=1.0, method="rk4", step_size=0.25).double()
    trainer = ClassifierTrainer(model, _moons(96, 0), _moons(64, 1), batch_size=32, lr=lr, epochs=epochs,
                                seed=seed, progress=False, callbacks=hooks, restore_best=False)
    return model, trainer.fit()


def test_stabilize_hook_attaches_to_classifier_trainer():
    plain, _ = _stable_classifier([])
    assert float(contractivity_delta(plain.vector_field.A.detach(), 0.2).delta) > 0.05
    hook = ProjectionHook(StabilizeHook(delta_target=0.0), every=3)  # 9 steps: the last one is projected
    model, result = _stable_classifier([hook])
    delta = float(contractivity_delta(model.vector_field.A.detach(), 0.2).delta)
    assert delta <= 1e-6, delta
    assert hook.calls == result.history[-1]["projections"] > 0
    assert hook.last is not None and result.status == "completed"
    assert np.isfinite(result.history[-1]["val_loss"])


def test_stabilize_penalty_pulls_towards_the_stabilised_weight():
    plain, _ = _stable_classifier([], lr=0.1)
    delta_plain = float(contractivity_delta(plain.vector_field.A.detach(), 0.2).delta)
    penalty = StabilizePenalty(weight=10.0, delta_target=0.0)
    model, result = _stable_classifier([penalty], lr=0.1)
    delta = float(contractivity_delta(model.vector_field.A.detach(), 0.2).delta)
    assert delta < 0.5 * delta_plain, (delta, delta_plain)
    assert all(r["stabilize_penalty"] >= 0 for r in result.history)
    assert result.history[-1]["stabilize_penalty"] < result.history[0]["stabilize_penalty"]


def test_diverging_lr_with_dopri5_stops_with_diverged_status(tmp_path):
    torch.manual_seed(0)
    data = _two_body(n=4)
    # relu: the field is unbounded, so one huge Adam step makes the solution blow up and dopri5's steps explode
    trainer = RolloutTrainer(MLPVectorField(4, hidden=16, activation="relu").double(), data, data, window=5,
                             batch_size=8, lr=10.0,
                             method="dopri5", rtol=1e-6, atol=1e-8, max_steps=200, epochs=20, out_dir=tmp_path,
                             progress=False)
    result = trainer.fit()
    assert result.status == "diverged" and not result.stopped_early
    assert result.history[-1]["status"] == "diverged" and "step" in result.history[-1]
    assert len(result.history) < 20
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["status"] == "diverged" and lines[-1]["reason"] == result.diverged_reason
    if result.best_epoch >= 0:  # the last checkpoint holds healthy (finite) parameters
        ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
        assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
        assert isinstance(load_model(tmp_path / "best_model.pt"), MLPVectorField)


def test_dtype_and_device_checks():
    data = _two_body(n=2)
    with pytest.raises(ValidationError, match="float32"):
        RolloutTrainer(MLPVectorField(4), data, dtype=torch.float64)
    trainer = RolloutTrainer(MLPVectorField(4), data, progress=False)  # data follows the model's dtype
    assert trainer.train_ys.dtype == torch.float32
    mixed = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    with pytest.raises(ValidationError, match="mix"):
        ClassifierTrainer(mixed, _moons(8, 0), track_jacobian=False)
    model = NeuralODEClassifier(MLPVectorField(2), 2, method="rk4", step_size=0.5)  # float32
    x, y = _moons(8, 0)
    with pytest.raises(ValidationError, match="model.double"):
        ClassifierTrainer(model, (x, y))
    with pytest.raises(ValidationError, match="device"):
        ClassifierTrainer(model.double(), (x, y), device="nodevice")
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError, match="not available"):
            ClassifierTrainer(model.double(), (x, y), device="cuda:3")
    trainer = ClassifierTrainer(model, (x, y), device="cpu", epochs=1, progress=False)
    assert trainer.x.device.type == "cpu" and trainer.fit().status == "completed"


def test_early_stopping_monitor_must_exist():
    data = _two_body(n=2)
    trainer = RolloutTrainer(MLPVectorField(4).double(), data, progress=False, method="rk4", step_size=0.05,
                             callbacks=[EarlyStopping(2, monitor="val_acc")])
    with pytest.raises(ValidationError, match="val_acc"):
        trainer.fit()
    with pytest.raises(ValidationError, match="min_delta"):
        EarlyStopping(2, min_delta=-1.0)


@pytest.mark.parametrize("kw,err,match", [
    ({"lr": "a"}, InputTypeError, "lr"), ({"lr": float("nan")}, ValidationError, "lr"),
    ({"lr_decay": 2.0}, ValidationError, "lr_decay"), ({"seed": -1}, ValidationError, "seed"),
    ({"out_dir": 3}, InputTypeError, "out_dir"), ({"step_size": "x"}, InputTypeError, "step_size"),
    ({"clip_grad_norm": 0}, ValidationError, "clip_grad_norm"), ({"solver_options": [1]}, InputTypeError, "solver"),
    ({"weight_decay": True}, InputTypeError, "weight_decay"), ({"max_steps": 0}, ValidationError, "max_steps"),
    ({"callbacks": 3}, InputTypeError, "callbacks"), ({"dtype": torch.int64}, InputTypeError, "dtype"),
])
def test_bad_trainer_arguments_raise_named_errors(kw, err, match):
    data = TrajectoryData(np.arange(5) * 0.1, np.zeros((2, 5, 2)))
    with pytest.raises(err, match=match):
        RolloutTrainer(MLPVectorField(2).double(), data, **kw)
