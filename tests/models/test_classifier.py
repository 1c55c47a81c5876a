"""Neural-ODE classifier on top of ``pysciml.odeint`` (seeds 000, 002)."""

from __future__ import annotations

import pytest
import torch

integrators = pytest.importorskip("pysciml.integrators")
if not hasattr(integrators, "odeint"):
    pytest.skip("pysciml.odeint is not available yet", allow_module_level=True)

from pysciml.errors import ValidationError  # noqa: E402
from pysciml.models import MLPVectorField, NeuralODEClassifier, StableNODE  # noqa: E402


@pytest.mark.parametrize("field", [MLPVectorField(2, hidden=8, layers=1), StableNODE(2, alpha=0.2)])
def test_classifier_records_nfe_and_backprops(field: torch.nn.Module) -> None:
    clf = NeuralODEClassifier(field, num_classes=3, t1=1.0, method="dopri5", rtol=1e-5, atol=1e-7).double()
    x = torch.randn(6, 2, dtype=torch.float64)
    logits = clf(x)
    assert logits.shape == (6, 3)
    assert clf.last_nfe is not None and clf.last_nfe > 0
    assert bool((clf.last_status == 0).all())
    torch.nn.functional.cross_entropy(logits, torch.zeros(6, dtype=torch.long)).backward()
    assert all(p.grad is not None for p in clf.parameters())


def test_classifier_matches_flow_of_linear_field_and_validates() -> None:
    field = StableNODE(2, "leaky_relu", alpha=1.0).double()  # α = 1: σ = id, x(1) = e^{A} x0 (b = 0)
    clf = NeuralODEClassifier(field, num_classes=2, t1=1.0, method="rk4", step_size=0.01).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    with torch.no_grad():
        feats = clf.features(x)
        exact = x @ torch.linalg.matrix_exp(field.A).T
    assert float((feats - exact).abs().max()) < 1e-8
    assert clf.last_nfe == 400  # 100 RK4 steps x 4 stages
    with pytest.raises(ValidationError, match="shape"):
        clf(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(ValidationError, match="dim"):
        NeuralODEClassifier(torch.nn.Linear(2, 2), num_classes=2)
