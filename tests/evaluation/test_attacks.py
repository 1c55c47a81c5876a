"""FGSM and PGD: closed forms on linear classifiers, the ε-ball, clipping, determinism, no side effects."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from pysciml.errors import InputTypeError, ValidationError
from pysciml.evaluation import fgsm, pgd
from pysciml.models import NeuralODEClassifier, StableNODE


def _linear(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0]).double()
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    return lin


def _mlp(d: int = 4, c: int = 3) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, c)).double()


def test_fgsm_on_linear_classifier_per_class_pair() -> None:
    torch.manual_seed(0)
    w, b = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    x = torch.randn(40, 5, dtype=torch.float64)
    eps = 0.3
    for i, j in itertools.permutations(range(3), 2):  # two-class model on the rows (w_i, w_j)
        model = _linear(w[[i, j]], b[[i, j]])
        y = torch.zeros(40, dtype=torch.long)  # true class i → the loss grows along w_j − w_i
        assert torch.equal(fgsm(model, x, y, eps), x + eps * torch.sign(w[j] - w[i]))
        assert torch.equal(fgsm(model, x, 1 - y, eps), x + eps * torch.sign(w[i] - w[j]))
    # three classes: ∇_x CE = Σ_k p_k w_k − w_y
    model = _linear(w, b)
    y = torch.randint(0, 3, (40,))
    p = torch.softmax(x @ w.T + b, dim=1)
    assert torch.equal(fgsm(model, x, y, eps), x + eps * torch.sign(p @ w - w[y]))


def test_fgsm_on_a_linear_neural_ode_classifier() -> None:
    # σ = identity (α = 1): logits = W e^{A} x + c, so the gradient direction is (w_j − w_i) e^{A}
    field = StableNODE(3, "leaky_relu", alpha=1.0).double()
    model = NeuralODEClassifier(field, num_classes=2, method="rk4", step_size=0.05).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.zeros(10, dtype=torch.long)
    g = (model.head.weight[1] - model.head.weight[0]) @ torch.linalg.matrix_exp(field.A)
    assert torch.equal(fgsm(model, x, y, 0.1), x + 0.1 * torch.sign(g.detach()))


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("random_start", [True, False])
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_pgd_stays_in_the_ball_and_the_box(norm: str, random_start: bool, clip) -> None:
    model = _mlp()
    x = torch.rand(64, 4, dtype=torch.float64) * 2 - 1
    y = torch.randint(0, 3, (64,))
    eps = 0.25
    xa = pgd(model, x, y, eps, norm=norm, steps=7, step_size=0.2, random_start=random_start, clip=clip)
    dist = (xa - x).abs().amax(1) if norm == "linf" else (xa - x).norm(dim=1)
    assert float(dist.max()) <= eps * (1 + 1e-12)
    assert float(dist.max()) > 0.5 * eps  # it does move
    if clip is not None:
        assert float(xa.min()) >= -1 and float(xa.max()) <= 1


def test_pgd_one_step_is_fgsm_and_is_stronger_with_more_steps() -> None:
    model = _mlp()
    x, y = torch.randn(200, 4, dtype=torch.float64), torch.randint(0, 3, (200,))
    eps = 0.4
    one = pgd(model, x, y, eps, steps=1, step_size=eps, random_start=False)
    assert torch.equal(one, fgsm(model, x, y, eps))
    loss = nn.functional.cross_entropy
    with torch.no_grad():
        l_fgsm = loss(model(one), y)
        l_pgd = loss(model(pgd(model, x, y, eps, steps=20, random_start=False)), y)
    assert l_pgd > l_fgsm


def test_pgd_deterministic_with_seed() -> None:
    model, x, y = _mlp(), torch.randn(30, 4, dtype=torch.float64), torch.randint(0, 3, (30,))
    a = pgd(model, x, y, 0.3, norm="l2", seed=5)
    assert torch.equal(a, pgd(model, x, y, 0.3, norm="l2", seed=5))
    assert not torch.equal(a, pgd(model, x, y, 0.3, norm="l2", seed=6))
    # batching does not change FGSM
    assert torch.equal(fgsm(model, x, y, 0.3, batch_size=7), fgsm(model, x, y, 0.3))


def test_no_gradient_leakage_and_mode_restored() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 3)).double()
    model.train()
    model[1].eval()  # a mixed state must come back as it was
    sentinel = torch.full_like(model[0].weight, 7.0)
    model[0].weight.grad = sentinel.clone()
    x, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    fgsm(model, x, y, 0.1)
    pgd(model, x, y, 0.1, steps=3)
    assert torch.equal(model[0].weight.grad, sentinel)
    assert all(p.grad is None for name, p in model.named_parameters() if name != "0.weight")
    assert model.training and model[0].training and not model[1].training
    assert not x.requires_grad


def test_bad_input() -> None:
    model = _mlp()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.randint(0, 3, (5,))
    with pytest.raises(ValidationError, match="epsilon"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(ValidationError, match="epsilon"):
        pgd(model, x, y, float("nan"))
    with pytest.raises(ValidationError, match="num_classes = 3"):
        from pysciml.evaluation import accuracy
        accuracy(model, x, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValidationError, match=">= 0"):
        fgsm(model, x, torch.tensor([0, -1, 0, 0, 0]), 0.1)
    with pytest.raises(ValidationError, match="float64"):
        fgsm(model, x.float(), y, 0.1)
    with pytest.raises(ValidationError, match="shape"):
        fgsm(model, x, y[:4], 0.1)
    with pytest.raises(ValidationError, match="batch"):
        fgsm(model, x[0], y, 0.1)
    with pytest.raises(InputTypeError):
        fgsm(model, x, y.double(), 0.1)
    with pytest.raises(InputTypeError):
        fgsm(lambda v: v, x, y, 0.1)
    with pytest.raises(ValidationError, match="outside clip"):
        fgsm(model, x * 10, y, 0.1, clip=(-1, 1))
    with pytest.raises(ValidationError, match="NaN"):
        fgsm(model, x.clone().fill_(float("nan")), y, 0.1)
    with pytest.raises(ValidationError, match="norm"):
        pgd(model, x, y, 0.1, norm="l1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device to test the device check")
def test_device_mismatch() -> None:
    model, y = _mlp(), torch.randint(0, 3, (5,))
    with pytest.raises(ValidationError, match="device"):
        fgsm(model, torch.randn(5, 4, dtype=torch.float64, device="cuda"), y.cuda(), 0.1)
    xa = fgsm(model.cuda(), torch.randn(5, 4, dtype=torch.float64, device="cuda"), y.cuda(), 0.1)
    assert xa.is_cuda
