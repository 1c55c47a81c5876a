"""Training through pysciml.odeint: MLP NODE on two-body windows (N = 2) and the moons classifier (slow)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch import nn

from pysciml.data import TrajectoryData
from pysciml.regularizers import JacobianFrobenius
from pysciml.training import ClassifierTrainer, RolloutTrainer


def _have(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


NEEDS_ODEINT = pytest.mark.skipif(
    not (_have("pysciml.integrators", "odeint") and _have("pysciml.models", "MLPVectorField")),
    reason="needs pysciml.odeint and pysciml.models.MLPVectorField")
NEEDS_CLASSIFIER = pytest.mark.skipif(
    not (_have("pysciml.integrators", "odeint") and _have("pysciml.models", "NeuralODEClassifier")),
    reason="needs pysciml.odeint and pysciml.models.NeuralODEClassifier")


class MLPField(nn.Module):
    def __init__(self, dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, dim)).double()

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


def _two_body(n: int, steps: int, dt: float) -> TrajectoryData:
    from scipy.integrate import solve_ivp

    import pysciml.systems as systems

    system = systems.get("two_body")
    t = np.arange(steps) * dt
    ys = [solve_ivp(lambda tt, y: system.rhs(tt, y[None])[0], (0, t[-1]), y0, t_eval=t, method="DOP853",
                    rtol=1e-11, atol=1e-12).y.T for y0 in system.initial_conditions(n, seed=1)]
    return TrajectoryData(t, np.stack(ys))


@NEEDS_ODEINT
@pytest.mark.parametrize("method,options", [("rk4", {"step_size": 0.01}),
                                            ("dopri5", {"rtol": 1e-6, "atol": 1e-8})])
def test_mlp_node_on_two_body_windows_n2_reduces_trajectory_loss(method, options):
    data = _two_body(n=4, steps=41, dt=0.01)
    train, val = data.split([0.5, 0.5], seed=0)
    from pysciml.models import MLPVectorField

    torch.manual_seed(0)
    field = MLPVectorField(4, hidden=32).double()
    trainer = RolloutTrainer(field, train, val, window=2, batch_size=32, method=method, lr=3e-3,
                             lr_decay=0.98, clip_grad_norm=1.0, epochs=8, seed=0, progress=False,
                             regularizers=[JacobianFrobenius(weight=1e-6, n_samples=1)], **options)
    result = trainer.fit()
    losses = [r["traj_loss"] for r in result.history]
    assert losses[-1] < 0.3 * losses[0], losses
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert all(r["nfe"] > 0 for r in result.history)


def _moons(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import make_moons

    x, y = make_moons(n, noise=0.1, random_state=seed)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y)


def _train_classifier(regs: list, seed: int = 0):
    from pysciml.models import MLPVectorField, NeuralODEClassifier

    torch.manual_seed(seed)
    model = NeuralODEClassifier(MLPVectorField(2, hidden=32), num_classes=2, t1=1.0, method="dopri5",
                                rtol=1e-5, atol=1e-7).double()
    trainer = ClassifierTrainer(model, _moons(512, 0), _moons(256, 1), batch_size=64, lr=1e-2, lr_decay=0.97,
                                epochs=30, seed=seed, progress=False, regularizers=regs, restore_best=False)
    return trainer.fit()


@pytest.mark.slow
@NEEDS_CLASSIFIER
def test_moons_classifier_accuracy_and_frobenius_lowers_nfe():
    plain = _train_classifier([])
    reg = _train_classifier([JacobianFrobenius(weight=1.0, estimator="exact")])
    assert plain.history[-1]["val_acc"] > 0.95
    nfe_plain = np.mean([r["nfe"] for r in plain.history[-10:]])
    nfe_reg = np.mean([r["nfe"] for r in reg.history[-10:]])
    assert nfe_reg < nfe_plain, (nfe_reg, nfe_plain)
    for key in ("kappa", "sigma_max", "sigma_min"):
        assert np.isfinite(plain.history[-1][key])
    assert plain.history[-1]["kappa"] >= 1.0


class EulerClassifier(nn.Module):
    """Test fixture: 4 explicit Euler steps of a field on [0, 1], then a linear head; records NFE."""

    def __init__(self) -> None:
        super().__init__()
        self.vector_field = MLPField(2, hidden=16)
        self.head = nn.Linear(2, 2).double()
        self.last_nfe = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, t = x, torch.zeros(x.shape[0], dtype=x.dtype)
        for _ in range(4):
            h = h + 0.25 * self.vector_field(t, h)
            t = t + 0.25
        self.last_nfe = 4
        return self.head(h)


def test_classifier_trainer_metrics_and_jacobian_tracking():
    torch.manual_seed(0)
    model = EulerClassifier()
    trainer = ClassifierTrainer(model, _moons(256, 0), _moons(128, 1), batch_size=64, lr=1e-2, epochs=15,
                                seed=0, progress=False, regularizers=[JacobianFrobenius(weight=1e-2)],
                                restore_best=False)
    result = trainer.fit()
    first, last = result.history[0], result.history[-1]
    assert last["val_loss"] < first["val_loss"] and last["val_acc"] > 0.8
    assert last["nfe"] == 4
    from pysciml.regularizers import exact_jacobian

    x = _moons(128, 1)[0]
    with torch.no_grad():
        s = torch.linalg.svdvals(exact_jacobian(model.vector_field, x, torch.zeros(128, dtype=torch.float64)))
    assert last["kappa"] == pytest.approx(float((s[:, 0] / s[:, -1]).mean()))
    assert last["sigma_min"] == pytest.approx(float(s[:, -1].mean()))
    assert all(r["kappa"] >= 1.0 for r in result.history)
