"""Offline error ε_θ and Jacobian error J_e: zero for the true field, closed forms, Hutchinson vs exact."""

from __future__ import annotations

import pytest
import torch

from pysciml import systems
from pysciml.errors import ValidationError
from pysciml.evaluation import evaluation_points, jacobian_error, offline_error
from pysciml.models import MLPVectorField


def _points(system: systems.System, n: int, seed: int = 0, scale: float = 0.1) -> torch.Tensor:
    y0 = torch.as_tensor(system.initial_conditions(n, seed=seed))
    gen = torch.Generator().manual_seed(seed)
    return y0 + scale * torch.randn(y0.shape, dtype=y0.dtype, generator=gen)


@pytest.mark.parametrize("name", ["two_body", "rigid_body", "robertson"])
def test_true_field_has_zero_offline_and_jacobian_error(name):
    system = systems.get(name)
    x = _points(system, 64, scale=0.01)
    assert offline_error(system.rhs_torch, system, x).eps_sup == 0.0
    je = jacobian_error(system.rhs_torch, system, x, "exact")
    scale = float(torch.as_tensor(system.jacobian(0.0, x.numpy())).pow(2).sum(dim=(1, 2)).mean())
    assert je.mean_sq_fro <= 1e-28 * max(scale, 1.0) and je.std_error == 0.0
    hutch = jacobian_error(system.rhs_torch, system, x, "hutchinson", n_probes=4)
    assert hutch.mean_sq_fro <= 1e-28 * max(scale, 1.0)


def test_ks_true_field_zero_jacobian_error_with_closed_form_jvp():
    ks = systems.get("kuramoto_sivashinsky")
    x = torch.as_tensor(ks.initial_conditions(16, seed=1))
    field = ks.split_field()  # the ETD form of the field: same F, another code path than jvp_torch
    scale = float(torch.as_tensor(ks.jacobian(0.0, x.numpy())).pow(2).sum(dim=(1, 2)).mean())
    for est in ("exact", "hutchinson"):
        je = jacobian_error(field, ks, x, est)
        assert je.mean_sq_fro <= 1e-24 * scale, est
    assert offline_error(field, ks, x).eps_sup <= 1e-10


class _Perturbed(torch.nn.Module):
    """``F(y) + B y + c``: offline error ``‖B y + c‖`` and Jacobian error ``‖B‖_F²`` everywhere."""

    def __init__(self, system: systems.System, b: torch.Tensor, c: torch.Tensor) -> None:
        super().__init__()
        self.system, self.b, self.c = system, b, c

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.system.rhs_torch(t, y) + y @ self.b.T + self.c


def test_closed_form_perturbation():
    tb = systems.get("two_body")
    gen = torch.Generator().manual_seed(5)
    b = torch.randn(4, 4, dtype=torch.float64, generator=gen)
    c = torch.tensor([0.3, -0.1, 0.2, 0.4], dtype=torch.float64)
    x = _points(tb, 50)
    model = _Perturbed(tb, b, c)
    eps = offline_error(model, tb, x)
    expected = (x @ b.T + c).norm(dim=1)
    assert eps.eps_mean_sq == pytest.approx(float((expected ** 2).mean()), rel=1e-10)
    assert eps.eps_sup == pytest.approx(float(expected.max()), rel=1e-10)
    je = jacobian_error(model, tb, x, "exact")
    assert je.mean_sq_fro == pytest.approx(float(b.pow(2).sum()), rel=1e-10)
    assert je.mean_spectral == pytest.approx(float(torch.linalg.matrix_norm(b, ord=2)), rel=1e-10)


@pytest.mark.parametrize("name,n_points", [("two_body", 400), ("kuramoto_sivashinsky", 60)])
def test_hutchinson_agrees_with_exact_within_three_standard_errors(name, n_points):
    system = systems.get(name)
    torch.manual_seed(0)
    model = MLPVectorField(system.dim, hidden=32, layers=2).double()
    x = _points(system, n_points, seed=2, scale=0.01)
    exact = jacobian_error(model, system, x, "exact")
    for seed in range(3):
        hutch = jacobian_error(model, system, x, "hutchinson", n_probes=4, seed=seed)
        assert hutch.std_error > 0
        assert abs(hutch.mean_sq_fro - exact.mean_sq_fro) <= 3 * hutch.std_error, (seed, hutch, exact)
        assert hutch.std_error < 0.5 * exact.mean_sq_fro  # and the estimate is informative


def test_bad_points():
    tb = systems.get("two_body")
    with pytest.raises(ValidationError, match="points"):
        offline_error(tb.rhs_torch, tb, torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValidationError, match="n_probes"):
        jacobian_error(tb.rhs_torch, tb, torch.ones(3, 4, dtype=torch.float64), "hutchinson", n_probes=1)
    with pytest.raises(ValidationError, match="finite"):
        evaluation_points(torch.full((2, 3, 4), float("nan")))
    pts = evaluation_points(torch.randn(10, 30, 4), max_points=25)
    assert pts.shape == (25, 4)
