"""Exponential (ETD) and IMEX integrators on semilinear fields: orders, exactness, stability, gradients."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from pysciml.errors import ValidationError
from pysciml.integrators import FourierMultiplier, SplitField, odeint
from pysciml.integrators.exponential import TABLEAUX as EXP_TABLEAUX
from pysciml.integrators.exponential import ExpRKTableau, ExpStage
from pysciml.integrators.imex import TABLEAUX as IMEX_TABLEAUX
from pysciml.integrators.imex import ImexTableau
from pysciml.integrators.phi import phi_functions, phi_matrices

F64 = torch.float64
ORDERS = {"etd1": 1, "etd2rk": 2, "etdrk4": 4, "imex_ssp2": 2}
D = 6


def _linear_parts() -> dict[str, torch.Tensor | FourierMultiplier]:
    """A diagonal, a dense non-normal Hurwitz matrix, and a circulant (Fourier) operator, all stiff-ish."""
    gen = torch.Generator().manual_seed(1)
    diag = -torch.linspace(0.5, 40.0, D, dtype=F64)
    dense = torch.diag(diag) + torch.triu(torch.randn(D, D, generator=gen, dtype=F64), 1) * 3.0
    k = 2 * math.pi * torch.arange(D // 2 + 1, dtype=F64) / 4.0
    fourier = FourierMultiplier(-(k**2) - 0.1, D)
    return {"diagonal": diag, "dense": dense, "fourier": fourier}


def _dense(lin: torch.Tensor | FourierMultiplier) -> torch.Tensor:
    if isinstance(lin, FourierMultiplier):
        return lin.dense()
    return torch.diag(lin) if lin.dim() == 1 else lin


def _manufactured(lin: torch.Tensor | FourierMultiplier) -> tuple[SplitField, callable]:
    """``y' = L y + N(t, y)`` whose exact solution is ``u(t)``: ``N = u' - L u + sin(y) - sin(u)``."""
    mat = _dense(lin)
    freq = torch.linspace(0.5, 2.0, D, dtype=F64)

    def exact(t: torch.Tensor) -> torch.Tensor:  # t [B] -> [B, D]
        return torch.cos(freq * t[:, None]) + 0.5 * torch.sin(t[:, None])

    def d_exact(t: torch.Tensor) -> torch.Tensor:
        return -freq * torch.sin(freq * t[:, None]) + 0.5 * torch.cos(t[:, None])

    def nonlinear(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u = exact(t)
        return d_exact(t) - u @ mat.T + torch.sin(y) - torch.sin(u)

    return SplitField(lin, nonlinear), exact


@pytest.mark.parametrize("kind", ["diagonal", "dense", "fourier"])
@pytest.mark.parametrize("method", list(ORDERS))
def test_empirical_convergence_order(method: str, kind: str) -> None:
    field, exact = _manufactured(_linear_parts()[kind])
    t = torch.tensor([0.0, 1.0], dtype=F64)
    y0 = exact(torch.zeros(2, dtype=F64))
    hs = [1 / 16, 1 / 32, 1 / 64, 1 / 128] if ORDERS[method] < 4 else [1 / 64, 1 / 128, 1 / 256, 1 / 512]
    errs = []
    for h in hs:
        sol = odeint(field, y0, t, method=method, step_size=h)
        assert bool(sol.success.all())
        errs.append(float((sol.ys[:, -1] - exact(torch.ones(2, dtype=F64))).abs().max()))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - ORDERS[method]) < 0.2, (errs, slope)


@pytest.mark.parametrize("kind", ["diagonal", "dense", "fourier"])
@pytest.mark.parametrize("method", ["etd1", "etd2rk", "etdrk4"])
def test_exponential_methods_are_exact_for_linear_problems(method: str, kind: str) -> None:
    lin = _linear_parts()[kind]
    y0 = torch.randn(3, D, dtype=F64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.0, 0.7, 3.0], dtype=F64)
    sol = odeint(SplitField(lin, lambda t, y: torch.zeros_like(y)), y0, t, method=method, step_size=0.5)
    mat = _dense(lin)
    exact = torch.stack([y0 @ torch.linalg.matrix_exp(tk * mat).T for tk in t], dim=1)
    torch.testing.assert_close(sol.ys, exact, rtol=1e-11, atol=1e-13)


def test_stiff_linear_part_large_steps() -> None:
    """Eigenvalues down to -1e5 with h = 0.1: ETD/IMEX stay accurate/stable where dopri5 needs ~1e4 steps."""
    lam = -torch.logspace(0, 5, D, dtype=F64)
    field = SplitField(lam, lambda t, y: 0.1 * torch.cos(y))
    y0 = torch.ones(1, D, dtype=F64)
    t = torch.tensor([0.0, 2.0], dtype=F64)
    ref = odeint(field, y0, t, method="rodas5p", rtol=1e-11, atol=1e-13)
    for method, tol in (("etdrk4", 1e-5), ("etd1", 1e-2), ("imex_ssp2", 1e-2)):
        sol = odeint(field, y0, t, method=method, step_size=0.1)
        assert float((sol.ys[:, -1] - ref.ys[:, -1]).abs().max()) < tol, method
    explicit = odeint(field, y0, t, method="dopri5", rtol=1e-6, atol=1e-8)
    assert int(explicit.stats["n_steps"].max()) > 50 * 20


def test_imex_ssp2_is_l_stable_and_matches_its_stability_function() -> None:
    tab = IMEX_TABLEAUX["imex_ssp2"]
    assert abs(tab.stability_function(-1e9)[0]) < 1e-6
    z = -np.logspace(-2, 6, 50)
    assert np.all(np.abs(tab.stability_function(z)) <= 1.0 + 1e-12)
    assert np.all(np.abs(tab.stability_function(1j * np.linspace(0.1, 100, 50))) <= 1.0 + 1e-12)
    # the stepper on y' = λ y (all implicit) reproduces R(hλ)
    lam = torch.tensor([-0.3, -7.0, -2e3], dtype=F64)
    sol = odeint(SplitField(lam, lambda t, y: torch.zeros_like(y)), torch.ones(1, 3, dtype=F64),
                 torch.tensor([0.0, 0.1], dtype=F64), method="imex_ssp2", step_size=0.1)
    expected = tab.stability_function(0.1 * lam.numpy()).real
    np.testing.assert_allclose(sol.ys[0, -1].numpy(), expected, rtol=1e-13)


def test_phi_functions_against_high_precision() -> None:
    mpmath.mp.dps = 40
    z = [-2e3, -50.0, -3.0, -1e-3, 0.0, 1e-9, 0.5, 1.0]
    got = phi_functions(torch.tensor(z, dtype=F64), 3)
    for i, zi in enumerate(z):
        for k in range(4):
            if zi == 0:
                want = 1 / math.factorial(k)
            else:
                zz = mpmath.mpf(zi)
                want = float((mpmath.exp(zz) - sum(zz**j / mpmath.factorial(j) for j in range(k))) / zz**k)
            assert abs(float(got[i, k]) - want) <= 1e-12 * abs(want) + 1e-300, (zi, k)
    # complex arguments (full circle) and the block-matrix form agree with the scalar one
    zc = torch.tensor([-3.0 + 2.0j, 0.1j], dtype=torch.complex128)
    direct = [(torch.exp(zc) - 1) / zc, (torch.exp(zc) - 1 - zc) / zc**2]
    torch.testing.assert_close(phi_functions(zc, 2)[:, 1:].T, torch.stack(direct), rtol=1e-12, atol=0)
    diag = torch.tensor([-40.0, -1.0, 0.0, 0.3], dtype=F64)
    mats = phi_matrices(torch.diag(diag), torch.tensor([0.5], dtype=F64), 3)[0]  # [4, n, n]
    want = phi_functions(0.5 * diag, 3) * (0.5 ** torch.arange(4, dtype=F64))
    torch.testing.assert_close(torch.diagonal(mats, dim1=-2, dim2=-1).T, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["etd1", "etdrk4", "imex_ssp2"])
@pytest.mark.parametrize("kind", ["diagonal", "dense"])
def test_gradcheck_through_split_solvers(method: str, kind: str) -> None:
    gen = torch.Generator().manual_seed(3)
    lin0 = _linear_parts()[kind][:3] if kind == "diagonal" else _linear_parts()[kind][:3, :3]
    lin = lin0.clone().requires_grad_(True)
    weight = torch.randn(3, 3, generator=gen, dtype=F64, requires_grad=True)
    y0 = torch.randn(2, 3, generator=gen, dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 0.3, 0.6], dtype=F64)

    def run(lin: torch.Tensor, weight: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
        field = SplitField(lin, lambda t, y: torch.tanh(y @ weight.T) + torch.sin(t)[:, None])
        return odeint(field, y0, t, method=method, step_size=0.15).ys

    assert torch.autograd.gradcheck(run, (lin, weight, y0))


def test_per_sample_time_grids_and_backwards_integration() -> None:
    lin = _linear_parts()["dense"]
    field = SplitField(lin, lambda t, y: torch.sin(y) + torch.cos(t)[:, None])
    y0 = torch.randn(2, D, dtype=F64, generator=torch.Generator().manual_seed(4))
    ts = torch.tensor([[0.0, 0.5, 1.0], [0.0, 0.8, 1.3]], dtype=F64)
    both = odeint(field, y0, ts, method="etdrk4", step_size=0.1)
    for b in range(2):
        alone = odeint(field, y0[b:b + 1], ts[b], method="etdrk4", step_size=0.1)
        torch.testing.assert_close(both.ys[b], alone.ys[0], rtol=1e-13, atol=1e-14)
        assert int(both.stats["n_steps"][b]) == int(alone.stats["n_steps"][0])
    # forward then backward returns to the start (to the method's accuracy; a mild L, since integrating a
    # strongly dissipative system backwards amplifies round-off by e^{|λ| t})
    field = SplitField(0.05 * lin, lambda t, y: torch.sin(y) + torch.cos(t)[:, None])
    fwd = odeint(field, y0, torch.tensor([0.0, 1.0], dtype=F64), method="etdrk4", step_size=0.01)
    back = odeint(field, fwd.ys[:, -1], torch.tensor([1.0, 0.0], dtype=F64), method="etdrk4", step_size=0.01)
    torch.testing.assert_close(back.ys[:, -1], y0, rtol=1e-7, atol=1e-7)


def test_fourier_and_dense_representations_agree() -> None:
    n = 16
    k = 2 * math.pi * torch.arange(n // 2 + 1, dtype=F64) / 10.0
    four = FourierMultiplier(k**2 - k**4, n)
    nonlinear = lambda t, y: -0.5 * four_dx(y * y)  # noqa: E731
    sym_dx = 1j * k
    sym_dx[-1] = 0.0

    def four_dx(u: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(sym_dx * torch.fft.rfft(u, dim=-1), n=n, dim=-1)

    x = torch.arange(n, dtype=F64) * 10.0 / n
    y0 = torch.stack([torch.sin(2 * math.pi * x / 10), 0.3 * torch.cos(4 * math.pi * x / 10)])
    t = torch.tensor([0.0, 1.0], dtype=F64)
    for method in ("etdrk4", "imex_ssp2"):
        a = odeint(SplitField(four, nonlinear), y0, t, method=method, step_size=0.05).ys
        b = odeint(SplitField(four.dense(), nonlinear), y0, t, method=method, step_size=0.05).ys
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_bad_input_is_reported() -> None:
    y0 = torch.ones(1, 2, dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    with pytest.raises(ValidationError, match="SplitField"):
        odeint(lambda t, y: -y, y0, t, method="etd1", step_size=0.1)
    with pytest.raises(ValidationError, match="step_size"):
        odeint(SplitField(-torch.ones(2, dtype=F64), lambda t, y: 0 * y), y0, t, method="etdrk4")
    with pytest.raises(ValidationError, match=r"\[D, D\]"):
        SplitField(torch.ones(2, 3, dtype=F64), lambda t, y: y)
    with pytest.raises(ValidationError, match="non-finite"):
        SplitField(torch.tensor([float("nan"), 1.0]), lambda t, y: y)


def test_tableaux_validate_themselves() -> None:
    for tab in EXP_TABLEAUX.values():
        assert tab.nodes[0] == 0.0
    np.testing.assert_allclose(EXP_TABLEAUX["etdrk4"].nodes, [0.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValidationError, match="constant N"):
        ExpRKTableau("bad", 1, (), ExpStage(0, 1.0, [[0.5]]))
    with pytest.raises(ValidationError, match="order condition m=2"):
        ExpRKTableau("bad", 2, (ExpStage(0, 1.0, [[1.0]]),), ExpStage(0, 1.0, [[1.0, 0.0], [-0.5, 0.5]]))
    with pytest.raises(ValidationError, match="coupling"):
        ImexTableau("bad", 2, a_exp=[[0, 0], [1, 0]], b_exp=[0.5, 0.5], a_imp=[[1, 0], [0, 1]], b_imp=[0.5, 0.5])


def test_adjoint_with_split_fields() -> None:
    y0 = torch.randn(2, 3, dtype=F64, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    lin = (-torch.eye(3, dtype=F64) + 0.2 * torch.ones(3, 3, dtype=F64)).requires_grad_(True)

    class Nonlinear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 3).double()

        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.layer(y))

    net = Nonlinear()

    def field() -> SplitField:
        return SplitField(lin, net)

    with pytest.raises(ValidationError, match="backpropagation"):
        odeint(field(), y0, t, method="etd1", step_size=0.1, adjoint=True)
    # an explicit method with the continuous adjoint finds L and N's parameters and matches backprop
    grads = []
    for adjoint in (False, True):
        sol = odeint(field(), y0, t, method="dopri5", rtol=1e-10, atol=1e-12, adjoint=adjoint)
        grads.append(torch.autograd.grad(sol.ys.square().sum(), [lin, *net.parameters()]))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    # a plain closure over a trainable tensor must name it in adjoint_params
    with pytest.raises(ValidationError, match="adjoint_params"):
        odeint(lambda t, y: y @ lin.T, y0, t, method="dopri5", adjoint=True)
    with pytest.raises(ValidationError, match="adjoint_params"):
        odeint(SplitField(lin, lambda t, y: net(t, y)), y0, t, method="dopri5", adjoint=True)


@pytest.mark.parametrize("method", ["etd1", "etd2rk", "etdrk4"])
def test_matrix_free_expmv_path_agrees_with_block_expm(method: str) -> None:
    from pysciml.integrators import LinearOperator

    lin = _linear_parts()["dense"]
    nonlinear = lambda t, y: torch.sin(y) + torch.cos(t)[:, None]  # noqa: E731
    y0 = torch.randn(3, D, dtype=F64, generator=torch.Generator().manual_seed(6))
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    ref = odeint(SplitField(lin, nonlinear, phi="expm"), y0, t, method=method, step_size=0.1).ys
    dense_expmv = odeint(SplitField(lin, nonlinear, phi="expmv"), y0, t, method=method, step_size=0.1).ys
    op = LinearOperator(lambda x: x @ lin.T, D, trace=torch.trace(lin))
    matrix_free = odeint(SplitField(op, nonlinear), y0, t, method=method, step_size=0.1).ys
    torch.testing.assert_close(dense_expmv, ref, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(matrix_free, ref, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValidationError, match="matrix-free LinearOperator has no solve"):
        odeint(SplitField(op, nonlinear), y0, t, method="imex_ssp2", step_size=0.1)
