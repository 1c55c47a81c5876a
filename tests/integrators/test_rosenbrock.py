"""Rosenbrock methods: tableau validation, stability functions, convergence orders, estimators, gradients."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import pysciml.integrators.rosenbrock as rosenbrock_module
from pysciml.errors import ValidationError
from pysciml.integrators.fields import VectorField
from pysciml.integrators.registry import available_methods, make_stepper
from pysciml.integrators.rosenbrock import (
    TABLEAUX,
    RosenbrockStepper,
    RosenbrockTableau,
    achieved_order,
    rooted_trees,
)

DT = torch.float64
NAMES = ["rosenbrock23", "rodas4", "rodas5p"]
ORDER = {"rosenbrock23": 2, "rodas4": 4, "rodas5p": 5}


# --- test problems -----------------------------------------------------------------------------------


def _stiff_linear(seed: int = 0, dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """``A = Q B Qᵀ`` with eigenvalues -1e4, -1e2 and a rotation pair ``-0.5 ± 2i``; and ``exp(A)``.

    ``exp(A)`` is assembled from exact exponentials of the decoupled blocks of ``B`` (``matrix_exp`` of
    the 2×2 block), which avoids the ``‖A‖·eps`` error of exponentiating the stiff matrix directly.
    """
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=DT))[0]
    blk = torch.tensor([[-0.5, -2.0], [2.0, -0.5]], dtype=DT)
    b = torch.zeros(dim, dim, dtype=DT)
    b[:2, :2] = blk
    b[2, 2], b[3, 3] = -1e2, -1e4
    e = torch.zeros(dim, dim, dtype=DT)
    e[:2, :2] = torch.linalg.matrix_exp(blk)
    e[2, 2], e[3, 3] = math.exp(-1e2), math.exp(-1e4)
    return q @ b @ q.T, q @ e @ q.T


class _Conjugated:
    """Nonlinear ``y' = f(y)`` conjugate to ``x' = A x`` by ``x = ψ(y) = y - C (y∘y)`` (C strictly lower).

    The exact solution is ``y(t) = ψ⁻¹(exp(tA) x0)`` (``matrix_exp`` reference); ``f`` is genuinely
    nonlinear so every rooted tree of the order conditions contributes to the error.
    """

    def __init__(self, stiffness: float = 10.0, seed: int = 0, dim: int = 4) -> None:
        g = torch.Generator().manual_seed(seed)
        q = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=DT))[0]
        b = torch.diag(torch.tensor([-1.0, -0.5, -stiffness, -0.5], dtype=DT))
        b[3, 1], b[1, 3] = 2.0, -2.0
        self.a = q @ b @ q.T
        self.c = torch.tril(torch.randn(dim, dim, generator=g, dtype=DT), -1) * 0.5
        self.x0 = torch.randn(2, dim, generator=g, dtype=DT)
        self.dim = dim

    def psi(self, y: torch.Tensor) -> torch.Tensor:
        return y - (y * y) @ self.c.T

    def psi_inv(self, x: torch.Tensor) -> torch.Tensor:
        ys: list[torch.Tensor] = []
        for i in range(self.dim):
            ys.append(x[:, i] + sum(self.c[i, j] * ys[j] ** 2 for j in range(i)))
        return torch.stack(ys, -1)

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dpsi = torch.eye(self.dim, dtype=DT) - 2 * self.c[None] * y[:, None, :]
        rhs = (self.psi(y) @ self.a.T).unsqueeze(-1)
        return torch.linalg.solve_triangular(dpsi, rhs, upper=False, unitriangular=True).squeeze(-1)

    @property
    def y0(self) -> torch.Tensor:
        return self.psi_inv(self.x0)

    def exact(self, t: float) -> torch.Tensor:
        return self.psi_inv(self.x0 @ torch.linalg.matrix_exp(t * self.a).T)


def _integrate(stepper: RosenbrockStepper, field: VectorField, y0: torch.Tensor, t_end: float,
               n: int) -> torch.Tensor:
    y, t = y0, torch.zeros(y0.shape[0], dtype=DT)
    dt = torch.full((y0.shape[0],), t_end / n, dtype=DT)
    for _ in range(n):
        y = stepper.step(field, t, y, dt, None).y
        t = t + dt
    return y


def _slope(hs: list[float], errs: list[float]) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


# --- tableaux ------------------------------------------------------------------------------------------


def test_rooted_tree_counts() -> None:
    counts = [sum(1 for t in rooted_trees(6) if t.order == k) for k in range(1, 7)]
    assert counts == [1, 1, 2, 4, 9, 20]


@pytest.mark.parametrize("name", NAMES)
def test_tableau_orders_exact(name: str) -> None:
    tab = TABLEAUX[name]
    assert achieved_order(tab.alpha, tab.gamma_matrix, tab.b) == tab.order == ORDER[name]
    assert achieved_order(tab.alpha, tab.gamma_matrix, tab.b_hat) == tab.error_order
    # transformed-form identities (HW (7.4')): Γ⁻¹ = diag(1/γ) - C, m = bΓ⁻¹, a = αΓ⁻¹
    g_inv = np.diag(np.full(tab.stages, 1 / tab.gamma)) - tab.c_mat
    np.testing.assert_allclose(g_inv @ tab.gamma_matrix, np.eye(tab.stages), atol=1e-12)
    np.testing.assert_allclose(tab.m @ tab.gamma_matrix, tab.b, atol=1e-12)
    np.testing.assert_allclose(tab.a @ tab.gamma_matrix, tab.alpha, atol=1e-11)


@pytest.mark.parametrize("name", NAMES)
def test_tableau_validation_rejects_perturbed_coefficients(name: str) -> None:
    tab = TABLEAUX[name]
    bad_b = tab.b.copy()
    bad_b[1] += 1e-6
    with pytest.raises(ValueError, match="order"):
        RosenbrockTableau(tab.name, tab.order, tab.error_order, tab.gamma, tab.alpha, tab.gamma_matrix, bad_b,
                          tab.b_hat)
    bad_gamma = tab.gamma_matrix.copy()
    bad_gamma[-1, 0] += 1e-6
    with pytest.raises(ValueError, match="order"):
        RosenbrockTableau(tab.name, tab.order, tab.error_order, tab.gamma, tab.alpha, bad_gamma, tab.b,
                          tab.b_hat)


def test_from_transformed_checks_published_stage_times() -> None:
    tab = TABLEAUX["rodas4"]
    kwargs = dict(a=tab.a, c_mat=tab.c_mat, m=tab.m, m_hat=tab.m - tab.m_err, d=tab.d)
    ok = RosenbrockTableau.from_transformed("rodas4", 4, 3, tab.gamma, c=tab.c, **kwargs)
    np.testing.assert_allclose(ok.alpha, tab.alpha, atol=1e-12)
    wrong_c = tab.c.copy()
    wrong_c[2] += 1e-3
    with pytest.raises(ValueError, match="disagree"):
        RosenbrockTableau.from_transformed("rodas4", 4, 3, tab.gamma, c=wrong_c, **kwargs)


# --- stability -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_l_stability(name: str) -> None:
    tab = TABLEAUX[name]
    assert abs(tab.stability_function(-1e9)[0]) < 1e-6
    # A-stability: |R| <= 1 on the imaginary axis and the negative real axis
    y = np.concatenate([np.logspace(-3, 6, 400), -np.logspace(-3, 6, 400)])
    assert np.max(np.abs(tab.stability_function(1j * y))) <= 1 + 1e-12
    assert np.max(np.abs(tab.stability_function(-np.logspace(-3, 9, 400)))) <= 1 + 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_stepper_reproduces_stability_function(name: str) -> None:
    lam = torch.tensor([-1e6, -3.0, 0.2, -50.0], dtype=DT)
    h = torch.tensor([1.0, 0.1, 0.5, 2e-3], dtype=DT)
    y0 = torch.ones(4, 1, dtype=DT)
    field = VectorField(lambda t, y: lam[:, None] * y, lambda t, y: lam[:, None, None].expand(-1, 1, 1),
                        autonomous=True)
    y1 = RosenbrockStepper(TABLEAUX[name]).step(field, torch.zeros(4, dtype=DT), y0, h, None).y
    expected = TABLEAUX[name].stability_function((lam * h).numpy()).real
    np.testing.assert_allclose(y1[:, 0].numpy(), expected, rtol=1e-12, atol=1e-13)


# --- convergence orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_order_stiff_linear_matrix_exp(name: str) -> None:
    """Fixed steps on y' = Ay with eigenvalues down to -1e4 (h|λ| up to 2500).

    On linear autonomous problems the error is ``(R(hA)ⁿ - e^{A}) y0``: rodas5p's ``R`` matches ``e^z``
    to ``O(z⁷)``, so it converges with order 6 there (its classical order 5 shows on nonlinear problems).
    """
    a, expa = _stiff_linear()
    y0 = torch.randn(3, 4, dtype=DT, generator=torch.Generator().manual_seed(1))
    exact = y0 @ expa.T
    field = VectorField(lambda t, y: y @ a.T, lambda t, y: a.expand(y.shape[0], 4, 4), autonomous=True)
    stepper = RosenbrockStepper(TABLEAUX[name])
    ns = [8, 16, 32] if name == "rodas5p" else [16, 32, 64]
    errs = [float((_integrate(stepper, field, y0, 1.0, n) - exact).abs().max()) for n in ns]
    expected = {"rosenbrock23": 2, "rodas4": 4, "rodas5p": 6}[name]
    assert abs(_slope([1 / n for n in ns], errs) - expected) < 0.2, errs


@pytest.mark.parametrize("name", NAMES)
def test_inverse_and_lu_stage_solves_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small states solve the stages with an explicit W⁻¹, larger ones with LU solves: same steps."""
    a, _ = _stiff_linear()
    y0 = torch.randn(3, 4, dtype=DT, generator=torch.Generator().manual_seed(1))
    field = VectorField(lambda t, y: y @ a.T, lambda t, y: a.expand(y.shape[0], 4, 4), autonomous=True)
    stepper = RosenbrockStepper(TABLEAUX[name])
    with_inverse = _integrate(stepper, field, y0, 1.0, 16)
    monkeypatch.setattr(rosenbrock_module, "_INVERSE_MAX_DIM", 0)
    with_lu = _integrate(stepper, field, y0, 1.0, 16)
    torch.testing.assert_close(with_inverse, with_lu, rtol=1e-10, atol=1e-12)  # round-off of stiff W (‖A‖ = 1e4)


@pytest.mark.parametrize("name", NAMES)
def test_order_nonlinear_autograd_jacobian(name: str) -> None:
    prob = _Conjugated()
    exact = prob.exact(1.0)
    stepper = RosenbrockStepper(TABLEAUX[name])
    ns = [64, 128, 256]
    errs = [float((_integrate(stepper, VectorField(prob.f), prob.y0, 1.0, n) - exact).abs().max())
            for n in ns]
    assert abs(_slope([1 / n for n in ns], errs) - ORDER[name]) < 0.2, errs


@pytest.mark.parametrize("name", NAMES)
def test_order_nonautonomous_forcing(name: str) -> None:
    """y' = A y + C z(t), z = (cos t, -sin t): exercises the ∂f/∂t term; reference = matrix_exp of the
    augmented autonomous system. Autograd and analytic ∂f/∂t give the same steps."""
    g = torch.Generator().manual_seed(2)
    a = torch.diag(torch.tensor([-1.0, -4.0, -0.3], dtype=DT))
    a = a + 0.2 * torch.randn(3, 3, generator=g, dtype=DT)
    c = torch.randn(3, 2, generator=g, dtype=DT)
    rot = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=DT)

    def z(t: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.cos(t), -torch.sin(t)], -1)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ a.T + z(t) @ c.T

    def f_t(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([-torch.sin(t), -torch.cos(t)], -1) @ c.T

    big = torch.zeros(5, 5, dtype=DT)
    big[:3, :3], big[:3, 3:], big[3:, 3:] = a, c, rot
    y0 = torch.randn(2, 3, generator=g, dtype=DT)
    t_end = 2.0
    exact = (torch.cat([y0, z(torch.zeros(2, dtype=DT))], 1) @ torch.linalg.matrix_exp(t_end * big).T)[:, :3]
    stepper = RosenbrockStepper(TABLEAUX[name])
    ns = [32, 64, 128]
    errs = []
    for n in ns:
        y_auto = _integrate(stepper, VectorField(f), y0, t_end, n)
        y_anal = _integrate(stepper, VectorField(f, time_derivative=f_t), y0, t_end, n)
        torch.testing.assert_close(y_auto, y_anal, rtol=1e-13, atol=1e-14)
        errs.append(float((y_anal - exact).abs().max()))
    assert abs(_slope([1 / n for n in ns], errs) - ORDER[name]) < 0.2, errs
    if name != "rosenbrock23":  # ode23s is a W-method: order 2 for any approximation of [J, f_t]
        # dropping ∂f/∂t must hurt the Rodas methods (their order conditions assume the exact f_t)
        y_wrong = _integrate(stepper, VectorField(f, autonomous=True), y0, t_end, ns[-1])
        assert float((y_wrong - exact).abs().max()) > 10 * errs[-1]


@pytest.mark.parametrize("name", NAMES)
def test_embedded_estimator_and_dense_output_orders(name: str) -> None:
    """Single steps: the error estimate is O(h^{min(p,q)+1}); dense output is O(h^{p_dense+1})."""
    prob = _Conjugated(stiffness=2.0)
    tab = TABLEAUX[name]
    stepper = RosenbrockStepper(tab)
    hs = [0.02, 0.01, 0.005]
    est, dense, local_hat = [], [], []
    theta = 0.37
    for h in hs:
        field = VectorField(prob.f)
        y0 = prob.y0
        t0 = torch.zeros(2, dtype=DT)
        dt = torch.full((2,), h, dtype=DT)
        res = stepper.step(field, t0, y0, dt, None)
        f0, f1 = prob.f(t0, y0), prob.f(t0 + dt, res.y)
        y_mid = stepper.interpolate(torch.full((2,), theta, dtype=DT), dt, y0, res.y, f0, f1, res.interp)
        est.append(float(res.error.abs().max()))
        dense.append(float((y_mid - prob.exact(theta * h)).abs().max()))
        local_hat.append(float((res.y - res.error - prob.exact(h)).abs().max()))
    assert abs(_slope(hs, est) - (min(tab.order, tab.error_order) + 1)) < 0.2, est
    assert abs(_slope(hs, local_hat) - (tab.error_order + 1)) < 0.25, local_hat
    assert _slope(hs, dense) > tab.dense_order + 1 - 0.2, dense


def test_rosenbrock23_is_fsal() -> None:
    prob = _Conjugated()
    stepper = RosenbrockStepper(TABLEAUX["rosenbrock23"])
    assert stepper.fsal and not RosenbrockStepper(TABLEAUX["rodas5p"]).fsal
    dt = torch.full((2,), 0.1, dtype=DT)
    res = stepper.step(VectorField(prob.f), torch.zeros(2, dtype=DT), prob.y0, dt, None)
    torch.testing.assert_close(res.f_end, prob.f(dt, res.y))
    assert res.n_f_evals == 3
    f0 = prob.f(torch.zeros(2, dtype=DT), prob.y0)
    assert stepper.step(VectorField(prob.f), torch.zeros(2, dtype=DT), prob.y0, dt, f0).n_f_evals == 2


def test_per_sample_step_sizes_match_individual_steps() -> None:
    prob = _Conjugated()
    stepper = RosenbrockStepper(TABLEAUX["rodas5p"])
    t = torch.tensor([0.0, 0.3], dtype=DT)
    dt = torch.tensor([0.05, 0.2], dtype=DT)
    batched = stepper.step(VectorField(prob.f), t, prob.y0, dt, None)
    for i in range(2):
        single = stepper.step(VectorField(prob.f), t[i : i + 1], prob.y0[i : i + 1], dt[i : i + 1], None)
        torch.testing.assert_close(batched.y[i : i + 1], single.y, rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(batched.error[i : i + 1], single.error, rtol=1e-10, atol=1e-15)


# --- gradients, Jacobians, registry, errors ------------------------------------------------------------


@pytest.mark.parametrize("name", ["rosenbrock23", "rodas5p"])
def test_gradcheck_through_fixed_steps(name: str) -> None:
    """Backprop through 3 steps w.r.t. y0 and the weights of f (autograd Jacobian, create_graph path)."""
    stepper = RosenbrockStepper(TABLEAUX[name])
    g = torch.Generator().manual_seed(3)
    y0 = torch.randn(2, 3, generator=g, dtype=DT, requires_grad=True)
    w = (torch.randn(3, 3, generator=g, dtype=DT) - 3 * torch.eye(3, dtype=DT)).requires_grad_(True)

    def run(y_init: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        field = VectorField(lambda t, y: torch.tanh(y @ weight.T) - 0.5 * y + 0.1 * torch.sin(t)[:, None])
        return _integrate(stepper, field, y_init, 0.6, 3)

    assert torch.autograd.gradcheck(run, (y0, w), atol=1e-7, rtol=1e-6)


def test_gradcheck_through_odeint_fixed_step() -> None:
    """``pysciml.odeint(method="rodas4", step_size=...)``: gradients w.r.t. y0 and weights of f."""
    from pysciml.integrators import odeint

    g = torch.Generator().manual_seed(5)
    y0 = torch.randn(2, 2, generator=g, dtype=DT, requires_grad=True)
    w = (torch.randn(2, 2, generator=g, dtype=DT) - 2 * torch.eye(2, dtype=DT)).requires_grad_(True)
    t = torch.tensor([0.0, 0.25, 0.5], dtype=DT)

    def run(y_init: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        sol = odeint(lambda tt, y: torch.tanh(y @ weight.T), y_init, t, method="rodas4", step_size=0.125)
        return sol.ys

    assert torch.autograd.gradcheck(run, (y0, w), atol=1e-7, rtol=1e-6)


def test_autograd_jacobian_and_time_derivative_match_analytic() -> None:
    g = torch.Generator().manual_seed(4)
    w = torch.randn(3, 3, generator=g, dtype=DT)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sin(y @ w.T) * torch.exp(-t)[:, None]

    y = torch.randn(5, 3, generator=g, dtype=DT)
    t = torch.rand(5, generator=g, dtype=DT)
    jac, f_t = VectorField(f).linearization(t, y)
    expected_jac = torch.cos(y @ w.T)[:, :, None] * w[None] * torch.exp(-t)[:, None, None]
    torch.testing.assert_close(jac, expected_jac, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(f_t, -f(t, y), rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(VectorField(f).jacobian(t, y), expected_jac, rtol=1e-13, atol=1e-14)
    # a field that ignores t has zero ∂f/∂t; no graph is kept for fields without trainable tensors
    jac2, ft2 = VectorField(lambda t, y: y**2).linearization(t, y)
    assert torch.count_nonzero(ft2) == 0 and not jac2.requires_grad
    torch.testing.assert_close(jac2, torch.diag_embed(2 * y))


def test_registry_and_errors() -> None:
    assert set(NAMES) <= set(available_methods("rosenbrock"))
    stepper = make_stepper("RODAS5P")
    assert isinstance(stepper, RosenbrockStepper) and stepper.order == 5 and stepper.error_order == 4
    with pytest.raises(ValidationError, match="takes no method options"):
        make_stepper("rodas4", newton_tol=1e-3)
    with pytest.raises(ValidationError, match=r"\[batch, dim\]"):
        stepper.step(VectorField(lambda t, y: -y), torch.zeros(2, dtype=DT), torch.ones(2, 2, 2, dtype=DT),
                     torch.full((2,), 0.1, dtype=DT), None)


def test_singular_matrix_gives_non_finite_sample_not_an_exception() -> None:
    """I/(hγ) - J singular for sample 0 only: that sample turns non-finite, the other is unaffected."""
    tab = TABLEAUX["rodas4"]
    h = 0.1
    lam = torch.tensor([1 / (h * tab.gamma), -1.0], dtype=DT)
    field = VectorField(lambda t, y: lam[:, None] * y, lambda t, y: lam[:, None, None].clone(),
                        autonomous=True)
    res = RosenbrockStepper(tab).step(field, torch.zeros(2, dtype=DT), torch.ones(2, 1, dtype=DT),
                                      torch.full((2,), h, dtype=DT), None)
    assert not torch.isfinite(res.y[0]).all()
    assert torch.isfinite(res.y[1]).all()
    np.testing.assert_allclose(res.y[1, 0].item(), tab.stability_function(-h).real[0], rtol=1e-13)


def test_tableau_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TABLEAUX["rodas4"].gamma = 0.3  # type: ignore[misc]
