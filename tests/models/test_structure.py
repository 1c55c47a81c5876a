"""Structural guarantees of the stability-aware models (issue 6 acceptance, property tests)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pysciml.errors import UnknownNameError, ValidationError
from pysciml.models import (
    Autoencoder,
    BilinearLowRank,
    HurwitzLinear,
    LipschitzMLP,
    MLPVectorField,
    SlopeBoundedActivation,
    StableNODE,
)

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(dim=st.integers(1, 8), shift=st.floats(-3.0, 3.0), scale=st.floats(0.01, 5.0),
       seed=st.integers(0, 10**6))
def test_hurwitz_spectrum_bound(dim: int, shift: float, scale: float, seed: int) -> None:
    torch.manual_seed(seed)
    lin = HurwitzLinear(dim, shift=shift, eps=1e-2).double()
    with torch.no_grad():
        for p in lin.parameters():
            p.copy_(scale * torch.randn_like(p))
    with torch.no_grad():
        a = lin.matrix()
        j, r, q = lin.factors()
    assert torch.allclose(j, -j.T)
    assert torch.linalg.eigvalsh(r).min() > 0 and torch.linalg.eigvalsh(q).min() > 0
    # Lyapunov identity A^T Q + Q A = -2 Q R Q - 2 γ Q  (the proof of the bound)
    lhs = a.T @ q + q @ a
    rhs = -2 * q @ r @ q - 2 * shift * q
    assert torch.allclose(lhs, rhs, atol=1e-8 * (1 + float(rhs.abs().max())))
    assert torch.linalg.eigvals(a).real.max() < -shift


def test_hurwitz_forward_and_validation() -> None:
    lin = HurwitzLinear(3, shift=0.5).double()
    z = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(lin(z), z @ lin.matrix().T)
    with pytest.raises(ValidationError, match="eps"):
        HurwitzLinear(3, eps=0.0)
    with pytest.raises(ValidationError, match="shift"):
        HurwitzLinear(3, shift=float("nan"))


@SETTINGS
@given(lip=st.floats(0.1, 10.0), layers=st.integers(1, 3), act=st.sampled_from(["tanh", "relu", "softplus"]),
       scale=st.floats(0.1, 10.0), seed=st.integers(0, 10**6))
def test_lipschitz_certificate_holds(lip: float, layers: int, act: str, scale: float, seed: int) -> None:
    torch.manual_seed(seed)
    net = LipschitzMLP(3, 2, hidden=16, layers=layers, lipschitz=lip, activation=act).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    bound = net.lipschitz_bound()
    assert bound <= lip * (1 + 1e-12)
    x, y = torch.randn(256, 3, dtype=torch.float64), torch.randn(256, 3, dtype=torch.float64)
    y = torch.where(torch.arange(256)[:, None] % 2 == 0, y, x + 1e-3 * y)  # far and near pairs
    ratio = ((net(x) - net(y)).norm(dim=-1) / (x - y).norm(dim=-1)).detach()
    assert float(ratio.max()) <= bound * (1 + 1e-9)
    jac = torch.func.vmap(torch.func.jacrev(net))(x).detach()
    assert float(torch.linalg.matrix_norm(jac, ord=2).max()) <= bound * (1 + 1e-9)


def test_lipschitz_unconstrained_and_errors() -> None:
    net = LipschitzMLP(2, 2, hidden=8, layers=2, lipschitz=None).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(20.0)
    # without the constraint the bound is still a valid (now large) certificate
    x = torch.randn(64, 2, dtype=torch.float64)
    jac = torch.func.vmap(torch.func.jacrev(net))(x).detach()
    assert net.lipschitz_bound() > 1.0
    assert float(torch.linalg.matrix_norm(jac, ord=2).max()) <= net.lipschitz_bound()
    with pytest.raises(UnknownNameError):
        LipschitzMLP(2, 2, activation="gelu")  # not 1-Lipschitz
    with pytest.raises(ValidationError):
        LipschitzMLP(2, 2, lipschitz=-1.0)


@SETTINGS
@given(dim=st.integers(1, 10), rank=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_bilinear_zero_jacobian_at_origin(dim: int, rank: int, seed: int) -> None:
    torch.manual_seed(seed)
    net = BilinearLowRank(dim, rank, init_scale=3.0).double()
    zero = torch.zeros(dim, dtype=torch.float64)
    assert torch.equal(net(zero), zero)
    assert torch.allclose(torch.func.jacrev(net)(zero), torch.zeros(dim, dim, dtype=torch.float64))
    u = torch.randn(dim, dtype=torch.float64)
    # purely quadratic: N(s u) = s^2 N(u)
    assert torch.allclose(net(2.5 * u), 6.25 * net(u), atol=1e-12)


def test_autoencoder_and_mlp_shapes() -> None:
    ae = Autoencoder(6, 2, hidden=16)
    y = torch.randn(5, 7, 6)
    assert ae.encode(y).shape == (5, 7, 2) and ae(y).shape == y.shape
    f = MLPVectorField(3, hidden=8, layers=2, time_dependent=True)
    assert f(torch.zeros(4), torch.randn(4, 3)).shape == (4, 3)


@pytest.mark.parametrize("kind", ["leaky_tanh", "leaky_relu"])
def test_stable_node_slopes_and_jacobian(kind: str) -> None:
    act = SlopeBoundedActivation(kind, alpha=0.2)
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    d = act.derivative(x)
    assert d.min() >= 0.2 - 1e-12 and d.max() <= 1 + 1e-12
    model = StableNODE(4, act).double()
    u = torch.randn(3, 4, dtype=torch.float64)
    t = torch.zeros(3, dtype=torch.float64)
    auto = torch.func.vmap(torch.func.jacrev(lambda v: model(t[:1], v[None])[0]))(u).detach()
    assert torch.allclose(model.jacobian(t, u).detach(), auto, atol=1e-12)
    # every Jacobian log-norm is bounded by the contractivity delta
    mu = torch.linalg.eigvalsh(0.5 * (auto + auto.transpose(-1, -2)))[..., -1]
    assert float(mu.max()) <= model.contractivity_delta().delta + 1e-12


def test_hurwitz_stiff_aware_initialisation() -> None:
    rates = torch.tensor([0.1, 10.0, 1e3])
    lin = HurwitzLinear(3, init_rates=rates, init_scale=0.0, eps=1e-3).double()
    eig = torch.sort(torch.linalg.eigvals(lin.matrix()).real).values
    want = -(torch.flip(rates.double(), [0]) + 1e-3) * (1 + 1e-3)  # A = -(R)(Q), R = diag(r) + εI, Q = (1 + ε)I
    torch.testing.assert_close(eig, want, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValidationError, match="init_rates"):
        HurwitzLinear(3, init_rates=[1.0, -1.0, 2.0])
    with pytest.raises(ValidationError, match="init_rates"):
        HurwitzLinear(3, init_rates=[1.0, 2.0])
