"""Structure-preserving NODE integrated by ``pysciml.odeint`` (ETD, IMEX and explicit methods)."""

from __future__ import annotations

import pytest
import torch

integrators = pytest.importorskip("pysciml.integrators")
if not hasattr(integrators, "odeint"):
    pytest.skip("pysciml.odeint is not available yet", allow_module_level=True)
pytest.importorskip("pysciml.integrators.split", reason="SplitField (ETD/IMEX) is not available yet")

from pysciml.models import (  # noqa: E402
    Autoencoder,
    BilinearLowRank,
    HurwitzLinear,
    LipschitzMLP,
    StructurePreservingNODE,
)


def _linear_model(method: str, **opts: object) -> StructurePreservingNODE:
    nonlinear = BilinearLowRank(3, 2).double()
    with torch.no_grad():
        nonlinear.C.zero_()  # N ≡ 0: the latent dynamics are linear and the exact flow is e^{tA}
    linear = HurwitzLinear(3, shift=0.2).double()
    return StructurePreservingNODE(None, linear, nonlinear, method=method, **opts)


@pytest.mark.parametrize("method", ["etd1", "etdrk4"])
def test_exponential_methods_exact_for_linear_part(method: str) -> None:
    model = _linear_model(method, step_size=0.5)
    y0 = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    with torch.no_grad():
        pred = model(y0, t)
        a = model.linear.matrix()
    exact = torch.stack([y0 @ torch.linalg.matrix_exp(tk * a).T for tk in t], dim=1)
    assert pred.shape == (4, 3, 3)
    assert torch.allclose(pred, exact, atol=1e-10)
    # 4 steps of 0.5, one nonlinear evaluation per stage (etd1: 1 stage, etdrk4: 4)
    assert model.last_nfe == 4 * {"etd1": 1, "etdrk4": 4}[method]


@pytest.mark.parametrize("method,opts,tol", [("imex_ssp2", {"step_size": 0.01}, 1e-3),
                                             ("dopri5", {"rtol": 1e-9, "atol": 1e-11}, 1e-7)])
def test_other_methods_agree_with_exact_linear_flow(method: str, opts: dict, tol: float) -> None:
    model = _linear_model(method, **opts)
    y0 = torch.randn(2, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with torch.no_grad():
        pred = model(y0, t)
        exact = y0 @ torch.linalg.matrix_exp(model.linear.matrix()).T
    assert float((pred[:, -1] - exact).abs().max()) < tol


def test_latent_model_with_autoencoder_trains() -> None:
    ae = Autoencoder(5, 2, hidden=8, activation="tanh").double()
    nonlinear = LipschitzMLP(2, 2, hidden=8, layers=2, lipschitz=0.5).double()
    model = StructurePreservingNODE(ae.encoder, HurwitzLinear(2).double(), nonlinear, ae.decoder,
                                    method="etd1", step_size=0.25)
    y0 = torch.randn(3, 5, dtype=torch.float64)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    out = model(y0, t)
    assert out.shape == (3, 5, 5)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.linear.K.grad.abs().sum() > 0 and model.decoder[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("method", ["etd1", "etdrk4"])
def test_expmv_path_matches_expm_path_values_and_gradients(method: str) -> None:
    """The matrix-free Al-Mohy–Higham φ-action (``phi="expmv"``) and the block ``matrix_exp`` path give the
    same prediction and the same parameter gradients (to rounding), with a non-trivial nonlinear part."""
    torch.manual_seed(0)
    grads, preds = {}, {}
    y0 = torch.randn(5, 4, dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 1.0, 2.5], dtype=torch.float64)  # unequal steps: several φ-matrices
    base = StructurePreservingNODE(None, HurwitzLinear(4, shift=-0.1).double(),
                                   LipschitzMLP(4, 4, hidden=6, lipschitz=2.0).double(), method=method,
                                   step_size=0.5)
    for phi in ("expm", "expmv"):
        model = StructurePreservingNODE(None, base.linear, base.nonlinear, method=method, phi=phi, step_size=0.5)
        model.zero_grad()
        out = model(y0, t)
        out.square().sum().backward()
        preds[phi] = out.detach()
        grads[phi] = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert torch.allclose(preds["expm"], preds["expmv"], rtol=1e-10, atol=1e-11)
    assert torch.allclose(grads["expm"], grads["expmv"], rtol=1e-8, atol=1e-10)
    assert grads["expm"].abs().max() > 0


def test_phi_option_is_validated() -> None:
    from pysciml.errors import ValidationError

    with pytest.raises(ValidationError, match="phi"):
        StructurePreservingNODE(None, HurwitzLinear(2), LipschitzMLP(2, 2), phi="pade")
