"""δ-SNet and α-SNet (Quaglino et al., arXiv:1906.07038): recovery of linear systems, inputs, errors, resume."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from pysciml.errors import CheckpointError, InputTypeError, ValidationError
from pysciml.training import Callback, EarlyStopping, ExponentialDecay
from pysciml.training.snet import SNetTrainer

A = np.array([[-0.2, 1.0, 0.0], [-1.0, -0.2, 0.3], [0.0, -0.3, -0.5]])


class Linear(torch.nn.Module):
    """``f(t, x[, u]) = W x (+ B u)``, initialised at zero."""

    def __init__(self, n: int, n_u: int = 0) -> None:
        super().__init__()
        self.W = torch.nn.Parameter(torch.zeros(n, n, dtype=torch.float64))
        self.B = torch.nn.Parameter(torch.zeros(n, n_u, dtype=torch.float64)) if n_u else None

    def forward(self, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        out = x @ self.W.T
        return out if u is None else out + u @ self.B.T


def linear_data(n_batch: int = 8, n_t: int = 100, t1: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
    t = np.linspace(0.0, t1, n_t)
    x0 = np.random.default_rng(0).standard_normal((n_batch, 3))
    y = np.einsum("kij,bj->bki", np.stack([scipy.linalg.expm(A * tk) for tk in t]), x0)
    return torch.as_tensor(t), torch.as_tensor(y)


def test_delta_snet_recovers_a_linear_system_to_1e_6() -> None:
    t, y = linear_data(n_batch=4)
    model = Linear(3)
    result = SNetTrainer(model, t, y, method="delta", max_iters=800, lr=0.1, lr_decay=0.995, delta=1e-18,
                         progress=False).fit()
    assert result.history[-1]["residual"] < 1e-12
    assert float((model.W.detach() - torch.as_tensor(A)).abs().max()) < 1e-6


def test_alpha_snet_recovers_a_linear_system_from_25_percent_of_the_data_to_1e_3() -> None:
    t, y = linear_data(n_batch=4)
    keep = np.sort(np.random.default_rng(1).choice(np.arange(1, 100), 24, replace=False))
    keep = np.concatenate([[0], keep])              # 25 of 100 samples, at non-node times
    model = Linear(3)
    trainer = SNetTrainer(model, t[keep], y[:, keep], method="alpha", t_span=(0.0, 4.0), max_iters=150,
                          lr_decay=0.99, progress=False)
    result = trainer.fit()
    objective = [r["objective"] for r in result.history]
    assert objective[-1] < 1e-4 * objective[0]
    assert float((model.W.detach() - torch.as_tensor(A)).abs().max()) < 1e-3
    # the series of the trained trajectory matches the full (held-out) data
    assert float((trainer.trajectory(t) - y).abs().max()) < 1e-2


def test_alpha_snet_perturbs_the_initial_trajectory_but_keeps_x0() -> None:
    t, y = linear_data(n_batch=2)
    trainer = SNetTrainer(Linear(3), t, y, method="alpha", max_iters=1, n_x=1, n_t=1, lr_x=1e-12, progress=False)
    fitted = trainer.x.clone()
    trainer.fit()
    moved = (trainer.x - fitted).abs()
    assert float(moved[:, 0].max()) == 0.0 and 0.05 < float(moved[:, 1:].max()) <= 0.1


def test_inputs_given_as_samples_are_fitted_as_series_and_reach_the_field() -> None:
    """ẋ = A x + b u with u = sin(2t) (per sample phase): δ-SNet recovers both A and b."""
    from pysciml import odeint

    b_true = torch.tensor([[1.0], [0.0], [-0.5]], dtype=torch.float64)
    a_true = torch.as_tensor(A)
    phase = torch.linspace(0.0, 3.0, 6, dtype=torch.float64)
    u_of = lambda tt: torch.sin(2.0 * tt + phase[:, None])[..., None]   # noqa: E731  [B, K, 1]

    class Forced(torch.nn.Module):
        """State ``(x, ψ)``: the phase rides along (ψ' = 0) because odeint passes only active samples."""

        def forward(self, tt: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            u = torch.sin(2.0 * tt + z[:, 3])[:, None]
            return torch.cat([z[:, :3] @ a_true.T + u @ b_true.T, torch.zeros_like(u)], dim=1)

    t = torch.linspace(0.0, 3.0, 100, dtype=torch.float64)
    x0 = torch.as_tensor(np.random.default_rng(3).standard_normal((6, 3)))
    y = odeint(Forced(), torch.cat([x0, phase[:, None]], dim=1), t, rtol=1e-12, atol=1e-13).ys[..., :3]
    model = Linear(3, 1)
    SNetTrainer(model, t, y, inputs=u_of(t.expand(6, -1)), max_iters=800, lr=0.1, lr_decay=0.995,
                progress=False).fit()
    assert float((model.W.detach() - a_true).abs().max()) < 1e-5
    assert float((model.B.detach() - b_true).abs().max()) < 1e-5
    # a callable input gives exact node values: the same model
    model2 = Linear(3, 1)
    SNetTrainer(model2, t, y, inputs=u_of, max_iters=800, lr=0.1, lr_decay=0.995, progress=False).fit()
    assert float((model2.W.detach() - a_true).abs().max()) < 1e-5


def test_bad_input_raises_validation_errors() -> None:
    t, y = linear_data(n_batch=2, n_t=20)
    with pytest.raises(ValidationError, match="p .* must be >= 2"):
        SNetTrainer(Linear(3), t, y, p=1)
    with pytest.raises(ValidationError, match="outside the spectral mesh"):
        SNetTrainer(Linear(3), t, y, t_span=(0.0, 2.0))
    with pytest.raises(ValidationError, match="does not match the observations"):
        SNetTrainer(Linear(3, 1), t, y, inputs=torch.zeros(2, 19, 1, dtype=torch.float64))
    with pytest.raises(ValidationError, match="input callable"):
        SNetTrainer(Linear(3, 1), t, y, inputs=lambda tt: torch.zeros(3, 1))

    class Wrong(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, tt: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return x[:, :2] * self.w

    with pytest.raises(ValidationError, match="the field returned"):
        SNetTrainer(Wrong(), t, y, progress=False).fit()
    with pytest.raises(ValidationError, match="method"):
        SNetTrainer(Linear(3), t, y, method="beta")


def test_checkpoint_resume_continues_to_the_same_parameters(tmp_path) -> None:
    t, y = linear_data(n_batch=3, n_t=30)
    straight = Linear(3)
    SNetTrainer(straight, t, y, method="alpha", max_iters=6, n_x=2, n_t=2, progress=False).fit()
    first = Linear(3)
    SNetTrainer(first, t, y, method="alpha", max_iters=3, n_x=2, n_t=2, progress=False, out_dir=tmp_path,
                checkpoint_every=1).fit()
    resumed = Linear(3)
    trainer = SNetTrainer(resumed, t, y, method="alpha", max_iters=6, n_x=2, n_t=2, progress=False,
                          out_dir=tmp_path)
    result = trainer.fit(resume=True)
    assert [r["iteration"] for r in result.history] == list(range(6))
    torch.testing.assert_close(resumed.W, straight.W, rtol=0, atol=1e-14)
    assert (tmp_path / "metrics.jsonl").is_file() and (tmp_path / "loss_curve.png").is_file()


class Stopper(Callback):
    """Records every hook call; stops after iteration ``stop_at``; keeps a counter through checkpoints."""

    def __init__(self, stop_at: int = 10**9) -> None:
        self.stop_at, self.calls, self.steps, self.count = stop_at, [], [], 0

    def on_fit_start(self, trainer) -> None:
        self.calls.append("fit_start")
        assert isinstance(trainer.optimizer, torch.optim.Adam)

    def on_step(self, trainer, step: int) -> None:
        self.steps.append(step)

    def on_validation(self, trainer, record) -> None:
        record["seen"] = self.count

    def on_epoch_end(self, trainer, record) -> None:
        self.count += 1
        if record["iteration"] == self.stop_at:
            trainer.stop_training = True

    def on_fit_end(self, trainer, result) -> None:
        self.calls.append("fit_end")

    def state_dict(self) -> dict:
        return {"count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])


def test_callbacks_follow_the_shared_protocol_and_can_stop_training() -> None:
    t, y = linear_data(n_batch=2, n_t=20)
    cb = Stopper(stop_at=4)
    result = SNetTrainer(Linear(3), t, y, method="alpha", n_t=3, max_iters=50, progress=False,
                         callbacks=[cb]).fit()
    assert result.iterations == 5 and cb.calls == ["fit_start", "fit_end"]
    assert cb.steps == list(range(1, 16))                        # 3 θ steps per α-SNet iteration
    assert [r["seen"] for r in result.history] == [0, 1, 2, 3, 4]


def test_early_stopping_monitors_the_residual() -> None:
    t, y = linear_data(n_batch=2, n_t=20)
    # lr so small that the residual cannot improve by min_delta: stops after `patience` iterations
    result = SNetTrainer(Linear(3), t, y, max_iters=50, lr=1e-12, progress=False,
                         callbacks=[EarlyStopping(patience=3, min_delta=1e-3)]).fit()
    assert result.iterations == 4


def test_loss_terms_enter_the_theta_objective() -> None:
    """A penalty ``c ‖W‖²`` shifts the δ-SNet minimiser: for ẋ = Ax the optimum of R + c‖W‖² is no longer A."""

    class Ridge(Callback):
        def loss_terms(self, trainer, x) -> dict:
            return {"ridge": 10.0 * trainer.model.W.pow(2).sum()}

    t, y = linear_data(n_batch=4)
    plain, ridge = Linear(3), Linear(3)
    SNetTrainer(plain, t, y, max_iters=300, lr=0.1, progress=False).fit()
    result = SNetTrainer(ridge, t, y, max_iters=300, lr=0.1, progress=False, callbacks=[Ridge()]).fit()
    assert "ridge" in result.history[-1] and result.history[-1]["ridge"] > 0
    assert float(ridge.W.detach().norm()) < 0.5 * float(plain.W.detach().norm())


def test_lr_decay_is_an_exponential_decay_callback_and_excludes_a_second_scheduler() -> None:
    t, y = linear_data(n_batch=2, n_t=20)
    trainer = SNetTrainer(Linear(3), t, y, max_iters=5, lr=0.1, lr_decay=0.5, progress=False)
    trainer.fit()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**5)
    with pytest.raises(ValidationError, match="either lr_decay or an LRScheduler"):
        SNetTrainer(Linear(3), t, y, lr_decay=0.5, callbacks=[ExponentialDecay(0.9)])
    with pytest.raises(InputTypeError, match="must be a pysciml.training.Callback"):
        SNetTrainer(Linear(3), t, y, callbacks=[lambda it, rec: None])


def test_callback_state_is_restored_on_resume(tmp_path) -> None:
    t, y = linear_data(n_batch=2, n_t=20)
    SNetTrainer(Linear(3), t, y, max_iters=3, progress=False, out_dir=tmp_path, checkpoint_every=1,
                callbacks=[Stopper()]).fit()
    cb = Stopper()
    trainer = SNetTrainer(Linear(3), t, y, max_iters=6, progress=False, out_dir=tmp_path, callbacks=[cb])
    result = trainer.fit(resume=True)
    assert cb.count == 6 and [r["seen"] for r in result.history] == [0, 1, 2, 3, 4, 5]
    assert cb.steps == [4, 5, 6]
    with pytest.raises(CheckpointError, match="callbacks"):
        SNetTrainer(Linear(3), t, y, max_iters=8, progress=False, out_dir=tmp_path).fit(resume=True)
