"""expmv / phimv (Al-Mohy & Higham 2011): agreement with SciPy and matrix_exp, batching, φ-functions, gradients,
input validation and the early termination of the Taylor series."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.sparse.linalg import expm_multiply

import pysciml
from pysciml.errors import InputTypeError, ValidationError
from pysciml.integrators import Diagonal, LinearOperator, expmv, phimv

# the function ``pysciml.integrators.expmv`` shadows the submodule's name as an attribute of the package
expmv_module = importlib.import_module("pysciml.integrators.expmv")

DT = torch.float64
RTOL = 1e-12


def rel_err(x: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray) -> float:
    """``‖x − ref‖ / ‖ref‖`` (Frobenius over all entries)."""
    x = np.asarray(x.detach() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    ref = np.asarray(ref.detach() if isinstance(ref, torch.Tensor) else ref, dtype=np.float64)
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ref_matrix_exp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """``e^{tA} b`` for ``b [n]`` or ``b [B, n]`` with one shared ``A`` via torch.linalg.matrix_exp."""
    return b @ torch.linalg.matrix_exp(t * a).T


def ref_scipy(a: torch.Tensor, b: torch.Tensor, t: float) -> np.ndarray:
    out = expm_multiply(t * a.numpy(), b.numpy().T)
    return out.T


def ref_phi(a: np.ndarray, b: np.ndarray, ws: list[np.ndarray], t: float) -> np.ndarray:
    """``e^{tA} b + Σ_k t^k φ_k(tA) w_k`` from scipy.linalg.expm of the explicit augmented matrix (Theorem 2.1)."""
    n, p = a.shape[0], len(ws)
    big = np.zeros((n + p, n + p))
    big[:n, :n] = a
    big[:n, n:] = np.stack([ws[p - 1 - j] for j in range(p)], axis=1)
    big[n:, n:] = np.eye(p, k=1)
    v = np.zeros(n + p)
    v[:n], v[-1] = b, 1.0
    return (scipy.linalg.expm(t * big) @ v)[:n]


def stiff_symmetric(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative-definite ``A = U diag(λ) U^T`` with λ from −1 to −3·10^4 (‖A‖₁ ≥ 1e4); returns ``(A, U, λ)``."""
    u, _ = torch.linalg.qr(torch.randn(n, n, generator=gen(seed), dtype=DT))
    lam = -torch.logspace(0, 4.5, n, dtype=DT)
    a = u @ torch.diag(lam) @ u.T
    return (a + a.T) / 2, u, lam


def stiff_hurwitz(n: int, seed: int) -> torch.Tensor:
    """Non-symmetric stiff Hurwitz ``A = (J − R) Q`` (J skew, R and Q SPD, R with a 1 … 1e4 spectrum)."""
    g = gen(seed)
    k = torch.randn(n, n, generator=g, dtype=DT)
    u, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))
    r = u @ torch.diag(torch.logspace(0, 4, n, dtype=DT)) @ u.T
    m = torch.randn(n, n, generator=g, dtype=DT)
    q = m @ m.T / n + torch.eye(n, dtype=DT)
    return (50 * (k - k.T) - r) @ q


# ---------------------------------------------------------------------------------------------------------------
# agreement with SciPy and matrix_exp
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 20, 50])
@pytest.mark.parametrize("t", [1.0, -0.7, 2.5])
def test_random_matrices_match_scipy_and_matrix_exp(n: int, t: float) -> None:
    g = gen(n)
    a = torch.randn(n, n, generator=g, dtype=DT)
    b = torch.randn(n, generator=g, dtype=DT)
    x = expmv(a, b, t)
    assert x.shape == b.shape and x.dtype == DT
    assert rel_err(x, ref_matrix_exp(a, b, t)) < RTOL
    assert rel_err(x, ref_scipy(a, b, t)) < RTOL


def test_stiff_negative_definite() -> None:
    a, u, lam = stiff_symmetric(30, seed=1)
    assert a.abs().sum(0).max() >= 1e4
    b = torch.randn(30, generator=gen(2), dtype=DT)
    for t in (1e-3, 1e-2):  # where matrix_exp itself is accurate to ~1e-13
        x = expmv(a, b, t)
        assert rel_err(x, ref_matrix_exp(a, b, t)) < RTOL
        assert rel_err(x, ref_scipy(a, b, t)) < RTOL
    # large t (‖tA‖₁ ≈ 6e3, s in the thousands): against the eigen-decomposition (exact up to rounding here)
    t = 0.2
    x = expmv(a, b, t)
    ref = u @ (torch.exp(t * lam) * (u.T @ b))
    assert rel_err(x, ref) < RTOL
    assert rel_err(x, ref_scipy(a, b, t)) < RTOL


def test_stiff_nonsymmetric_hurwitz() -> None:
    a = stiff_hurwitz(20, seed=3)
    assert a.abs().sum(0).max() >= 1e4
    assert bool((torch.linalg.eigvals(a).real < 0).all())
    b = torch.randn(20, generator=gen(4), dtype=DT)
    for t in (1e-4, 1e-3, 1e-2):
        x = expmv(a, b, t)
        assert rel_err(x, ref_matrix_exp(a, b, t)) < RTOL
        assert rel_err(x, ref_scipy(a, b, t)) < RTOL
    assert rel_err(expmv(a, b, 0.1), ref_scipy(a, b, 0.1)) < RTOL


@pytest.mark.parametrize("kind", ["jordan", "upper", "nilpotent"])
def test_strongly_non_normal(kind: str) -> None:
    n = 12
    g = gen(5)
    if kind == "jordan":  # −I + 30 N: ‖e^{tA}‖ has a huge hump
        a = -torch.eye(n, dtype=DT) + 30 * torch.diag(torch.ones(n - 1, dtype=DT), 1)
    elif kind == "upper":
        a = torch.triu(torch.randn(n, n, generator=g, dtype=DT), 1) * 50 - torch.diag(torch.rand(n, generator=g,
                                                                                                 dtype=DT) * 5)
    else:  # exactly nilpotent: d_p = 0 for p ≥ n
        a = torch.triu(torch.randn(n, n, generator=g, dtype=DT), 1) * 100
    b = torch.randn(n, generator=g, dtype=DT)
    for t in (0.1, 1.0, 3.0):
        x = expmv(a, b, t)
        assert rel_err(x, ref_matrix_exp(a, b, t)) < RTOL
        assert rel_err(x, ref_scipy(a, b, t)) < RTOL


def test_diagonal_shared_and_per_sample() -> None:
    g = gen(6)
    d = -torch.rand(15, generator=g, dtype=DT) * 1e4
    b = torch.randn(4, 15, generator=g, dtype=DT)
    x = expmv(Diagonal(d), b, 0.01)
    assert rel_err(x, torch.exp(0.01 * d) * b) < RTOL
    assert rel_err(x, ref_scipy(torch.diag(d), b, 0.01)) < RTOL
    assert rel_err(expmv(torch.diag(d), b, 0.01), x) < RTOL  # the dense Taylor path agrees
    ds = torch.randn(4, 15, generator=g, dtype=DT)
    ts = torch.tensor([0.0, -1.0, 0.5, 2.0], dtype=DT)
    x = expmv(Diagonal(ds), b, ts)
    assert rel_err(x, torch.exp(ts[:, None] * ds) * b) < RTOL
    assert rel_err(expmv(torch.diag_embed(ds), b, ts), x) < RTOL


@pytest.mark.parametrize("with_trace", [True, False])
def test_linear_operator_matches_dense(with_trace: bool) -> None:
    g = gen(7)
    a = torch.randn(25, 25, generator=g, dtype=DT) * 2 + 3 * torch.eye(25, dtype=DT)
    b = torch.randn(3, 25, generator=g, dtype=DT)
    op = LinearOperator(lambda v: v @ a.T, 25, trace=a.trace() if with_trace else None)
    x = expmv(op, b, 1.3)
    assert rel_err(x, expmv(a, b, 1.3, shift=with_trace)) < 1e-14
    assert rel_err(x, ref_matrix_exp(a, b, 1.3)) < RTOL
    assert rel_err(op.rmatvec(b), b @ a) < 1e-15  # the autograd transpose


def test_norm_estimator_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the materialisation size the block 1-norm estimator is used: lower bounds, close, same result."""
    g = gen(8)
    a = torch.randn(40, 40, generator=g, dtype=DT) * 3
    b = torch.randn(40, generator=g, dtype=DT)
    op = LinearOperator(lambda v: v @ a.T, 40)
    exact = expmv_module._exact_root_norms(a[None], torch.zeros(1, dtype=DT), 9)
    monkeypatch.setattr(expmv_module, "_EXACT_NORM_MAX_DIM", 0)
    monkeypatch.setattr(expmv_module, "_EXACT_NORM_WORK", 0)
    est = expmv_module._LinOp(op, b).root_norms(torch.zeros(1, dtype=DT), 9)
    assert bool((est <= exact * (1 + 1e-12)).all()) and bool((est >= 0.5 * exact).all())
    dense_est = expmv_module._DenseOp(a.expand(2, 40, 40)).root_norms(torch.zeros(2, dtype=DT), 9)
    assert bool((dense_est <= exact * (1 + 1e-12)).all()) and bool((dense_est >= 0.5 * exact).all())
    assert rel_err(expmv(op, b, 1.0), ref_matrix_exp(a, b, 1.0)) < RTOL
    assert rel_err(expmv(a, b, 1.0), ref_matrix_exp(a, b, 1.0)) < RTOL  # dense, estimated d_p
    a_batch = torch.stack([a, 2 * a, -a])  # ‖A_i‖₁ > 63: condition (3.13) fails, the d_p are estimated per sample
    bb = torch.randn(3, 40, generator=g, dtype=DT)
    x = expmv(a_batch, bb, torch.tensor([1.0, 0.5, -1.0], dtype=DT))
    for i, t in enumerate((1.0, 0.5, -1.0)):
        assert rel_err(x[i], ref_matrix_exp(a_batch[i], bb[i], t)) < RTOL


def test_several_vectors_one_block() -> None:
    g = gen(9)
    a = torch.randn(20, 20, generator=g, dtype=DT)
    b = torch.randn(7, 20, generator=g, dtype=DT)
    x = expmv(a, b, 1.5)
    assert x.shape == (7, 20)
    assert rel_err(x, ref_matrix_exp(a, b, 1.5)) < RTOL
    assert rel_err(x, ref_scipy(a, b, 1.5)) < RTOL
    for i in range(7):  # the same as one vector at a time
        assert rel_err(x[i], expmv(a, b[i], 1.5)) < RTOL


def test_per_sample_matrices_and_times() -> None:
    g = gen(10)
    bsz, n = 6, 10
    a = torch.randn(bsz, n, n, generator=g, dtype=DT) * torch.tensor([0.1, 1, 3, 10, 1, 2], dtype=DT).view(-1, 1, 1)
    b = torch.randn(bsz, n, generator=g, dtype=DT)
    ts = torch.tensor([0.0, -1.0, 0.5, 0.3, 2.0, -0.01], dtype=DT)
    x = expmv(a, b, ts)
    assert x.shape == (bsz, n)
    assert torch.equal(x[0], b[0])  # t = 0 returns b
    for i in range(bsz):
        t = float(ts[i])
        assert rel_err(x[i], ref_matrix_exp(a[i], b[i], t)) < RTOL
        if t != 0:
            assert rel_err(x[i], ref_scipy(a[i], b[i], t)) < RTOL
    xs = expmv(a, b, 0.7)  # per-sample matrices, one time
    for i in range(bsz):
        assert rel_err(xs[i], ref_matrix_exp(a[i], b[i], 0.7)) < RTOL
    xt = expmv(a[3], b, ts)  # one matrix, per-sample times
    for i in range(bsz):
        assert rel_err(xt[i], ref_matrix_exp(a[3], b[i], float(ts[i]))) < RTOL


def test_t_zero_returns_b_and_float32() -> None:
    g = gen(11)
    a = torch.randn(8, 8, generator=g, dtype=DT)
    b = torch.randn(8, generator=g, dtype=DT)
    assert torch.equal(expmv(a, b, 0.0), b)
    assert torch.equal(phimv(a, b, [b, 2 * b], 0.0), b)
    x32 = expmv(a.float(), b.float(), 1.5)
    assert x32.dtype == torch.float32
    assert rel_err(x32, ref_matrix_exp(a, b, 1.5)) < 1e-5
    assert pysciml.expmv is expmv


def test_theta_table() -> None:
    theta = expmv_module.THETA_DOUBLE
    assert len(theta) == 55 and all(x < y for x, y in zip(theta, theta[1:]))
    table_3_1 = {5: 2.4e-3, 10: 1.4e-1, 15: 6.4e-1, 20: 1.4, 25: 2.4, 30: 3.5, 35: 4.7, 40: 6.0, 45: 7.2,
                 50: 8.5, 55: 9.9}
    for m, val in table_3_1.items():
        assert float(f"{theta[m - 1]:.2g}") == pytest.approx(val)


# ---------------------------------------------------------------------------------------------------------------
# φ-functions
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2, 3])
def test_phimv_matches_augmented_expm(p: int) -> None:
    g = gen(20 + p)
    a = torch.randn(15, 15, generator=g, dtype=DT)
    b = torch.randn(15, generator=g, dtype=DT)
    ws = [torch.randn(15, generator=g, dtype=DT) * 10.0 ** k for k in range(p)]
    for t in (0.7, -1.3, 3.0):
        x = phimv(a, b, ws, t)
        assert rel_err(x, ref_phi(a.numpy(), b.numpy(), [w.numpy() for w in ws], t)) < RTOL
    a_stiff, _, _ = stiff_symmetric(15, seed=p)
    for t in (1e-3, 1e-2):
        x = phimv(a_stiff, b, ws, t)
        assert rel_err(x, ref_phi(a_stiff.numpy(), b.numpy(), [w.numpy() for w in ws], t)) < RTOL


def test_phimv_batched_per_sample_and_operator_types() -> None:
    g = gen(30)
    bsz, n = 5, 12
    a = torch.randn(n, n, generator=g, dtype=DT)
    a_batch = torch.randn(bsz, n, n, generator=g, dtype=DT)
    b = torch.randn(bsz, n, generator=g, dtype=DT)
    w1 = torch.randn(bsz, n, generator=g, dtype=DT) * 100
    w2 = torch.randn(bsz, n, generator=g, dtype=DT)
    ts = torch.tensor([0.0, -1.0, 0.3, 2.0, 1e-3], dtype=DT)
    x = phimv(a, b, [w1, w2], ts)
    xb = phimv(a_batch, b, [w1, w2], ts)
    for i in range(bsz):
        t = float(ts[i])
        wi = [w1[i].numpy(), w2[i].numpy()]
        assert rel_err(x[i], ref_phi(a.numpy(), b[i].numpy(), wi, t)) < RTOL
        assert rel_err(xb[i], ref_phi(a_batch[i].numpy(), b[i].numpy(), wi, t)) < RTOL
    assert torch.equal(x[0], b[0])
    op = LinearOperator(lambda v: v @ a.T, n, trace=float(a.trace()))
    assert rel_err(phimv(op, b, [w1, w2], 0.8), phimv(a, b, [w1, w2], 0.8)) < 1e-14
    d = -torch.rand(n, generator=g, dtype=DT) * 1e4
    xd = phimv(Diagonal(d), b, [w1], 0.1)
    assert rel_err(xd, phimv(torch.diag(d), b, [w1], 0.1)) < RTOL
    # φ_1 of a diagonal in closed form: e^{td} b + (e^{td} − 1)/d w
    assert rel_err(xd, torch.exp(0.1 * d) * b + torch.expm1(0.1 * d) / d * w1) < RTOL
    assert rel_err(phimv(a, b, [], 0.4), expmv(a, b, 0.4)) < 1e-15


def test_etd_identity_phi1() -> None:
    """h φ_1(hA) w = A^{-1}(e^{hA} − I) w (exponential Euler's φ_1 term), for invertible stiff A."""
    a = stiff_hurwitz(12, seed=31)
    w = torch.randn(12, generator=gen(32), dtype=DT)
    for h in (1e-4, 1e-3, 1e-2):
        x = phimv(a, torch.zeros_like(w), [w], h)
        ref = torch.linalg.solve(a, torch.linalg.matrix_exp(h * a) @ w - w)
        assert rel_err(x, ref) < 1e-11  # the reference loses a few digits in the subtraction
        assert rel_err(x, ref_phi(a.numpy(), np.zeros(12), [w.numpy()], h)) < RTOL


# ---------------------------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------------------------


def test_gradcheck_expmv_dense_b_t() -> None:
    g = gen(40)
    a = torch.randn(4, 4, generator=g, dtype=DT).requires_grad_(True)
    b = torch.randn(2, 4, generator=g, dtype=DT).requires_grad_(True)
    t = torch.tensor(0.8, dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a_, b_, t_: expmv(a_, b_, t_), (a, b, t))
    a_batch = torch.randn(3, 4, 4, generator=g, dtype=DT).requires_grad_(True)
    b3 = torch.randn(3, 4, generator=g, dtype=DT).requires_grad_(True)
    ts = torch.tensor([0.5, -0.3, 1.2], dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a_, b_, t_: expmv(a_, b_, t_), (a_batch, b3, ts))


def test_gradcheck_phimv_ws_and_diagonal() -> None:
    g = gen(41)
    a = torch.randn(3, 3, generator=g, dtype=DT).requires_grad_(True)
    b = torch.randn(2, 3, generator=g, dtype=DT).requires_grad_(True)
    w1 = torch.randn(2, 3, generator=g, dtype=DT).requires_grad_(True)
    w2 = torch.randn(2, 3, generator=g, dtype=DT).requires_grad_(True)
    t = torch.tensor([0.6, -0.4], dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a_, b_, x_, y_, t_: phimv(a_, b_, [x_, y_], t_), (a, b, w1, w2, t))
    d = torch.randn(3, generator=g, dtype=DT).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d_, x_: phimv(Diagonal(d_), b.detach(), [x_], 0.9), (d, w1))


def test_large_batch_matches_one_at_a_time_with_gradients() -> None:
    """A batch large enough for the loop to drop finished samples (different s and stopping points per sample)
    gives the values and gradients of one-sample calls."""
    g = gen(43)
    bsz, n = 40, 5
    scale = torch.logspace(-1, 1.5, bsz, dtype=DT).view(-1, 1, 1)
    a = (torch.randn(bsz, n, n, generator=g, dtype=DT) * scale).requires_grad_(True)
    b = torch.randn(bsz, n, generator=g, dtype=DT).requires_grad_(True)
    t = (torch.rand(bsz, generator=g, dtype=DT) * 2 - 0.5).requires_grad_(True)
    w = torch.randn(bsz, n, generator=g, dtype=DT)
    x = expmv(a, b, t)
    grads = torch.autograd.grad((x * w).sum(), (a, b, t))
    for i in range(0, bsz, 3):
        xi = expmv(a[i], b[i], t[i])
        assert rel_err(x[i], xi) < 1e-13
        gi = torch.autograd.grad((xi * w[i]).sum(), (a, b, t))
        for full, one in zip(grads, gi):
            assert rel_err(full[i], one[i]) < 1e-12


def test_gradients_through_linear_operator_and_at_t_zero() -> None:
    g = gen(42)
    a = torch.randn(5, 5, generator=g, dtype=DT)
    b = torch.randn(5, generator=g, dtype=DT)
    a1 = a.clone().requires_grad_(True)
    a2 = a.clone().requires_grad_(True)
    expmv(LinearOperator(lambda v: v @ a1.T, 5), b, 0.9).pow(2).sum().backward()
    expmv(a2, b, 0.9).pow(2).sum().backward()
    assert rel_err(a1.grad, a2.grad) < 1e-12
    # d/dt e^{tA} b at t = 0 is A b (t = 0 runs one exact Taylor term instead of none)
    t = torch.zeros((), dtype=DT, requires_grad=True)
    (grad_t,) = torch.autograd.grad(expmv(a, b, t).sum(), t)
    assert float(grad_t) == pytest.approx(float((a @ b).sum()), rel=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_helpful_errors() -> None:
    a = torch.randn(4, 4, dtype=DT)
    b = torch.randn(4, dtype=DT)
    with pytest.raises(ValidationError, match="square"):
        expmv(torch.randn(4, 3, dtype=DT), b)
    with pytest.raises(ValidationError, match="b has n = 5"):
        expmv(a, torch.randn(5, dtype=DT))
    with pytest.raises(ValidationError, match="NaN or Inf"):
        expmv(a, torch.tensor([1.0, float("nan"), 0.0, 0.0], dtype=DT))
    with pytest.raises(InputTypeError, match="Diagonal or a LinearOperator"):
        expmv(a.numpy(), b)
    with pytest.raises(InputTypeError, match="dtype"):
        expmv(a.float(), b)
    with pytest.raises(ValidationError, match="same B"):
        expmv(torch.randn(3, 4, 4, dtype=DT), torch.randn(2, 4, dtype=DT))
    with pytest.raises(ValidationError, match="one time per sample"):
        expmv(a, b, torch.ones(3, dtype=DT))
    with pytest.raises(ValidationError, match="finite"):
        expmv(a, b, math.inf)
    with pytest.raises(ValidationError, match="m_max"):
        expmv(a, b, m_max=60)
    with pytest.raises(ValidationError, match="dim 5"):
        expmv(LinearOperator(lambda v: v, 5), b)
    with pytest.raises(ValidationError, match="returned"):
        expmv(LinearOperator(lambda v: v[..., :2], 4), b)
    with pytest.raises(InputTypeError, match="list or tuple"):
        phimv(a, b, b)
    with pytest.raises(ValidationError, match=r"ws\[1\] has shape"):
        phimv(a, b, [b, torch.ones(3, dtype=DT)])
    with pytest.raises(ValidationError, match="NaN or Inf"):
        Diagonal(torch.tensor([1.0, math.inf], dtype=DT))
    with pytest.raises(InputTypeError, match="callable"):
        LinearOperator(a, 4)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="complex"):
        expmv(a.to(torch.complex128), b.to(torch.complex128))


# ---------------------------------------------------------------------------------------------------------------
# early termination
# ---------------------------------------------------------------------------------------------------------------


def test_early_termination_saves_matvecs() -> None:
    """‖A‖₁ = 30 comes from one column that b's orbit barely touches: the series converges in far fewer than
    m*·s terms (counted through a LinearOperator; condition (3.13) holds, so m*·s = min_m m ⌈‖A‖₁/θ_m⌉)."""
    n = 20
    g = gen(50)
    a = 0.01 * torch.randn(n, n, generator=g, dtype=DT)
    a[0, n - 1] = 30.0
    b = torch.randn(n, generator=g, dtype=DT)
    calls = []

    def matvec(v: torch.Tensor) -> torch.Tensor:
        calls.append(v.shape[0])
        return v @ a.T

    x = expmv(LinearOperator(matvec, n), b, 1.0)
    assert rel_err(x, ref_matrix_exp(a, b, 1.0)) < RTOL
    norm1 = float(a.abs().sum(0).max())
    cost = min(m * math.ceil(norm1 / th) for m, th in enumerate(expmv_module.THETA_DOUBLE, start=1))
    taylor_calls = sum(1 for rows in calls if rows == 1)  # the materialisation call has n rows
    assert cost >= 150
    assert 0 < taylor_calls < cost / 3


def test_augmented_operator_transpose_matches_its_matrix() -> None:
    """``Ã = [[A, W], [0, J_p]]``: ``apply_t`` is the transpose of ``apply`` (both recovered column by column)."""
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(2, 5, 5, dtype=DT, generator=gen)
    w = torch.randn(2, 5, 3, dtype=DT, generator=gen)
    op = expmv_module._AugmentedOp(expmv_module._DenseOp(a), w)
    eye = torch.eye(8, dtype=DT).expand(2, 8, 8)
    mat = op.apply(eye).transpose(-1, -2)  # row k of apply(eye) is Ã e_k, a column of Ã
    assert torch.allclose(mat[:, :5, :5], a) and torch.allclose(mat[:, :5, 5:], w)
    assert torch.equal(mat[:, 5:, 5:], torch.diag(torch.ones(2, dtype=DT), 1).expand(2, 3, 3))
    assert torch.allclose(op.apply_t(eye).transpose(-1, -2), mat.transpose(-1, -2))
