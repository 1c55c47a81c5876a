"""Fuzz of the core public API: odeint, expmv/phimv, systems, models, stability, regularisers, the CLI.

Each target draws valid and invalid arguments and checks the guarantees of :mod:`fuzz_harness`: a correct
result (checked where a reference is at hand) or a pysciml error naming the argument; never another exception
type, a hang, a crash, or NaN in a row reported successful. ``budget="slow"`` runs ≥ 10,000 examples in all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from fuzz_harness import BUDGET, COUNTS, Defect, call, isolated, junk, maybe, no_silent_nan, run, tensors
from fuzz_targets import jacobian_spectra, matrix_function
from hypothesis import strategies as st

from pysciml import models, regularizers, systems
from pysciml.errors import ValidationError
from pysciml.integrators import Diagonal, LinearOperator, SplitField, available_methods, expmv, odeint, phimv

BUDGETS = ["default", pytest.param("slow", marks=pytest.mark.slow)]

FIXED_STEP = {"euler", "midpoint", "heun", "ralston", "rk4", "etd1", "etd2rk", "etdrk4", "imex_ssp2"}


def _grid(kind: str, n: int) -> Any:
    return {"increasing": torch.linspace(0.0, 1.0, n, dtype=torch.float64),
            "decreasing": torch.linspace(1.0, 0.0, n, dtype=torch.float64),
            "repeated": torch.zeros(n, dtype=torch.float64),
            "list": [0.0, 0.5, 1.0][:n],
            "numpy": np.linspace(0.0, 1.0, n),
            "huge": torch.tensor([0.0, 1e300], dtype=torch.float64)}[kind]


def _field(kind: str) -> Any:
    lin = torch.tensor([[-1.0, 2.0], [-2.0, -1.0]], dtype=torch.float64)
    return {"linear": lambda t, y: -y + torch.roll(y, 1, -1) - torch.roll(y, -1, -1),  # any state size
            "cubic": lambda t, y: -y ** 3,
            "blowup": lambda t, y: y ** 2,
            "split": SplitField(lin, lambda t, y: -y ** 3),
            "module": models.MLPVectorField(2, hidden=4, layers=1).double()}[kind]


odeint_args = st.fixed_dictionaries({
    "field": st.sampled_from(["linear", "cubic", "blowup", "split", "module"]),
    "y0": maybe(st.builds(lambda shape, scale: torch.randn(shape, dtype=torch.float64) * scale,
                          st.sampled_from([(3, 2), (3, 2), (1, 2), (0, 2), (2,), (3, 3), (2, 2, 2)]),
                          st.sampled_from([1.0, 0.5, 10.0, 1e10, math.nan])), p_junk=4),
    "t": maybe(st.builds(_grid, st.sampled_from(["increasing", "increasing", "decreasing", "repeated", "list",
                                                  "numpy", "huge"]), st.integers(1, 5)), p_junk=4),
    "method": maybe(st.sampled_from(available_methods()), p_junk=6),
    "rtol": maybe(st.sampled_from([1e-6, 1e-3, 0.5])),
    "atol": maybe(st.sampled_from([1e-8, 1e-6])),
    "options": st.dictionaries(st.sampled_from(["step_size", "max_steps", "first_step", "dt_min", "bogus"]),
                               maybe(st.sampled_from([0.1, 1e-3, 5, 100, 0.0, -1.0])), max_size=2),
    "adjoint": st.sampled_from([False, False, True]),
})


def _odeint_case(a: dict[str, Any]) -> None:
    y0 = a["y0"]
    if a["adjoint"] and isinstance(y0, torch.Tensor) and y0.is_floating_point():
        y0 = y0.detach().clone().requires_grad_(True)
    opts = dict(a["options"])
    if isinstance(a["method"], str) and a["method"] in FIXED_STEP and "step_size" not in opts:
        opts["step_size"] = 0.1
    if "max_steps" not in opts:
        opts["max_steps"] = 200
    ok, sol = call(odeint, _field(a["field"]), y0, a["t"], method=a["method"], rtol=a["rtol"], atol=a["atol"],
                   adjoint=a["adjoint"], **opts,
                   names=("y0", "t", "method", "rtol", "atol", "step", "max_steps", "dt_min", "option", "bogus",
                          "f ", "f(", "field", "state", "adjoint", "dtype", "shape", "SplitField", "flat"))
    if not ok:
        return
    no_silent_nan(sol.ys, sol.success)
    assert sol.ys.shape[:2] == (y0.shape[0], torch.as_tensor(np.asarray(a["t"])).shape[-1])
    if a["adjoint"] and y0.requires_grad and bool(sol.success.all()) and y0.numel():
        ok, _ = call(lambda: torch.autograd.grad(sol.ys.sum(), y0), names=("adjoint", "sample"))


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_odeint(budget: str) -> None:
    run(odeint_args, _odeint_case, budget)


def test_odeint_adjoint_with_a_failed_row_matches_backprop() -> None:
    """Regression: a failed row the loss does not use leaves the adjoint gradient exact (as backprop)."""
    grads = []
    for adjoint in (False, True):
        y0 = torch.tensor([[0.5], [5.0], [0.3]], dtype=torch.float64, requires_grad=True)
        sol = odeint(lambda t, y: y ** 2, y0, torch.linspace(0, 1, 5, dtype=torch.float64), adjoint=adjoint,
                     rtol=1e-10, atol=1e-12)
        assert sol.status.tolist()[1] != 0 and sol.status.tolist()[0] == 0
        (g,) = torch.autograd.grad(sol.ys[0].sum() + sol.ys[2, -1].sum(), y0)
        grads.append(g)
    assert grads[1][1, 0] == 0.0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-8)
    # the exact value for row 0: y(t) = y0/(1 - y0 t), dy/dy0 = 1/(1 - y0 t)^2 summed over the grid
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    assert abs(float(grads[1][0, 0]) - float((1 / (1 - 0.5 * t) ** 2).sum())) < 1e-6
    y0 = torch.tensor([[0.5], [5.0]], dtype=torch.float64, requires_grad=True)
    sol = odeint(lambda t, y: y ** 2, y0, torch.linspace(0, 1, 5, dtype=torch.float64), adjoint=True)
    with pytest.raises(ValidationError, match=r"sample\(s\) \[1\]"):  # the loss uses the failed row
        torch.autograd.grad(sol.ys[:, 0].sum(), y0)


# ---------------------------------------------------------------------------------------------------- expmv


def _operator(kind: str, n: int, scale: float, dtype: torch.dtype) -> Any:
    gen = torch.Generator().manual_seed(n)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64).to(dtype) * scale
    return {"dense": lambda: a, "batched": lambda: a.expand(2, n, n).clone(),
            "diag": lambda: Diagonal(torch.diagonal(a).clone()),
            "linop": lambda: LinearOperator(lambda x: x @ a.T.to(x.dtype), n)}[kind]()


expmv_args = st.fixed_dictionaries({
    "kind": st.sampled_from(["dense", "batched", "diag", "linop", "junk"]),
    "junk_a": junk(),
    "n": st.integers(1, 6),
    "scale": st.sampled_from([0.0, 1.0, 10.0, 1e3, 1e9, 1e200]),
    "dtype": st.sampled_from([torch.float64, torch.float32]),
    "b": st.one_of(st.none(), junk()),
    "b_batch": st.sampled_from([None, 2, 0]),
    "t": maybe(st.sampled_from([1.0, 0.0, -2.0, 1e-3, 1e6])),
    "ws": st.one_of(st.none(), st.integers(0, 3), junk()),
})


def _expmv_case(a: dict[str, Any]) -> None:
    n, dtype = a["n"], a["dtype"]
    if a["kind"] == "junk":
        op = a["junk_a"]
    else:
        ok, op = call(_operator, a["kind"], n, a["scale"], dtype, names=("diag",))
        if not ok:
            return
    if a["b"] is None:
        shape = (n,) if a["b_batch"] is None and a["kind"] != "batched" else (a["b_batch"] or 2, n)
        b = torch.randn(shape, dtype=dtype)
    else:
        b = a["b"]
    names = ("A", "b", "t", "ws", "dtype", "Diagonal", "LinearOperator", "matvec", "max_matvecs")
    if a["ws"] is None:
        ok, out = call(expmv, op, b, a["t"], names=names)
    else:
        ws = [torch.randn_like(b) for _ in range(a["ws"])] if isinstance(a["ws"], int) and isinstance(
            b, torch.Tensor) and b.is_floating_point() else a["ws"]
        ok, out = call(phimv, op, b, ws, a["t"], names=names)
    if not ok:
        return
    assert out.shape == b.shape and out.dtype == b.dtype
    if a["kind"] == "dense" and a["ws"] is None and isinstance(a["t"], float) and dtype == torch.float64:
        ref = torch.linalg.matrix_exp(a["t"] * op) @ b.T if b.dim() == 2 else torch.linalg.matrix_exp(
            a["t"] * op) @ b
        ref = ref.T if b.dim() == 2 else ref
        if bool(torch.isfinite(ref).all()) and float(ref.abs().max()) < 1e100:
            torch.testing.assert_close(out, ref, rtol=1e-7, atol=1e-9 * max(1.0, float(ref.abs().max())))


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_expmv_phimv(budget: str) -> None:
    run(expmv_args, _expmv_case, budget)


# -------------------------------------------------------------------------------------------------- systems

systems_args = st.fixed_dictionaries({
    "name": st.one_of(st.sampled_from(systems.available()), st.text(max_size=6), junk()),
    "params": st.dictionaries(st.sampled_from(["N", "L", "preset", "eccentricity", "inertia", "n_agents", "bogus",
                                               "ic_perturbation", "burn_in", "dealias"]),
                              junk(), max_size=2),
    "n": maybe(st.sampled_from([1, 3, 10 ** 6, 10 ** 9])),
    "seed": maybe(st.sampled_from([0, 7, None, -1])),
    "y_shape": st.sampled_from(["valid", "wrong"]),
})


def _systems_case(a: dict[str, Any]) -> None:
    ok, system = call(systems.get, a["name"], **a["params"], names=("system", "parameter", "param"))
    if not ok:
        return
    ok, y0 = call(system.initial_conditions, a["n"], a["seed"], names=("n", "seed"))
    if not ok:
        return
    assert y0.shape == (a["n"], system.dim) and np.isfinite(y0).all()
    y = y0[:2] if a["y_shape"] == "valid" else y0[:2, :-1]
    ok, state = call(system.check_state, y, names=("y0",))
    if ok:
        rhs = system.rhs(0.0, state)
        assert rhs.shape == state.shape
        torch.testing.assert_close(system.rhs_torch(0.0, torch.as_tensor(state)), torch.as_tensor(rhs))


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_systems(budget: str) -> None:
    run(systems_args, _systems_case, budget)


# --------------------------------------------------------------------------------------------------- models

models_args = st.fixed_dictionaries({
    "model": st.sampled_from(["mlp", "hurwitz", "lipschitz", "bilinear", "autoencoder", "stable", "classifier"]),
    "size": maybe(st.sampled_from([1, 2, 3])),
    "hyper": maybe(st.sampled_from([0.1, 1.0, 0.0])),
    "x": st.one_of(st.none(), junk()),
    "x_shape": st.sampled_from([(4, 2), (4, 3), (2,), (4, 0)]),
})


def _build_model(kind: str, size: Any, hyper: Any) -> Any:
    return {"mlp": lambda: models.MLPVectorField(size, hidden=4, layers=1),
            "hurwitz": lambda: models.HurwitzLinear(size, shift=hyper),
            "lipschitz": lambda: models.LipschitzMLP(size, size, hidden=4, lipschitz=hyper),
            "bilinear": lambda: models.BilinearLowRank(size, 2, init_scale=hyper),
            "autoencoder": lambda: models.Autoencoder(size, 1, hidden=4),
            "stable": lambda: models.StableNODE(size, alpha=hyper),
            "classifier": lambda: models.NeuralODEClassifier(models.MLPVectorField(2, hidden=4, layers=1), size,
                                                             t1=hyper, method="rk4", step_size=0.25)}[kind]()


def _models_case(a: dict[str, Any]) -> None:
    names = ("dim", "size", "shift", "lipschitz", "init_scale", "alpha", "num_classes", "t1", "in_features",
             "out_features", "rank", "latent")
    ok, model = call(_build_model, a["model"], a["size"], a["hyper"], names=names)
    if not ok:
        return
    x = torch.randn(a["x_shape"]) if a["x"] is None else a["x"]
    names = ("x", "y", "z", "u", "t", "dtype")
    if a["model"] in ("mlp", "stable"):
        ok, out = call(model, torch.zeros(()), x, names=names)
    else:
        ok, out = call(model, x, names=names)
    if ok:
        assert isinstance(out, torch.Tensor) and out.shape[:-1] == x.shape[:-1]


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_models(budget: str) -> None:
    run(models_args, _models_case, budget)


# ------------------------------------------------------------------------------------------------ stability

matrix_args = st.fixed_dictionaries({
    "fn": st.sampled_from(["spectral_abscissa", "numerical_abscissa", "log_norm", "stiffness_index",
                           "transient_growth", "contractivity_delta"]),
    "a": st.one_of(tensors(), junk(), st.builds(lambda n, v: torch.full((n, n), v, dtype=torch.float64),
                                                st.integers(1, 3),
                                                st.sampled_from([0.0, 1e308, math.nan, 1e200, 1.0]))),
    "extra": maybe(st.sampled_from([1, 2, "inf", 0.5, 0.0])),
    "extra2": maybe(st.sampled_from([1.0, 2.0, 0.0])),
})


def _is(value: Any, const: Any) -> bool:
    """``value == const`` for plain Python values only (arrays and tensors are never equal)."""
    return type(value) in (int, float, str) and value == const


def _matrix_case(a: dict[str, Any]) -> None:
    fn, extra = a["fn"], a["extra"]
    args: tuple[Any, ...] = ()
    if fn == "log_norm":
        args = (extra,)
    elif fn == "stiffness_index":
        args = (extra, a["extra2"])
    elif fn == "transient_growth":
        args = (torch.linspace(0, 1, 3) if _is(extra, 1) else extra,)
    elif fn == "contractivity_delta":
        args = (extra,)
    isolated(matrix_function, fn, a["a"], *args,
             names=("A", "jac", "p", "t0", "t1", "t", "alpha", "eigen", "singular"))


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_stability_matrices(budget: str) -> None:
    run(matrix_args, _matrix_case, budget)


spectra_args = st.fixed_dictionaries({
    "ys": st.one_of(st.builds(lambda shape, v: torch.randn(shape, dtype=torch.float64) * v,
                              st.sampled_from([(2, 3, 2), (1, 1, 2), (0, 3, 2)]),
                              st.sampled_from([1.0, 1e100, 1e200, math.inf, math.nan])), junk()),
    "ts": st.one_of(st.just(None), junk()),
    "c": st.sampled_from([0.0, 1.0, 1e300]),
})


def _spectra_case(a: dict[str, Any]) -> None:
    ys = a["ys"]
    ts = a["ts"] if a["ts"] is not None or not isinstance(ys, torch.Tensor) or ys.dim() != 3 else torch.linspace(
        0, 1, ys.shape[1])
    ok, eig = isolated(jacobian_spectra, a["c"], ts, ys, names=("ys", "ts", "f", "Jacobian"))
    if ok:
        assert eig.shape == ys.shape and eig.is_complex()
        rates = torch.arange(1, ys.shape[-1] + 1, dtype=torch.float64)
        exact = -(rates + 3 * a["c"] * ys.double() ** 2)  # the Jacobian is diagonal
        finite = torch.isfinite(exact).all(-1) & (exact.abs() < 2.0 ** 500).all(-1)
        assert torch.isnan(eig[~finite].real).all()  # points whose Jacobian is not finite: NaN, never LAPACK
        torch.testing.assert_close(eig[finite].real.double().sort(-1).values, exact[finite].sort(-1).values,
                                   rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_jacobian_spectra(budget: str) -> None:
    run(spectra_args, _spectra_case, budget)


# -------------------------------------------------------------------------------------------- regularisers

reg_args = st.fixed_dictionaries({
    "reg": st.sampled_from(["frobenius", "spectral", "condition", "fd", "kinetic", "ad"]),
    "weight": maybe(st.sampled_from([1.0, 0.0, 2.5])),
    "x": st.one_of(st.none(), junk()),
    "x_shape": st.sampled_from([(4, 2), (2, 3, 2), (2, 2, 2), (4, 3)]),
    "t": st.one_of(st.none(), junk(), st.just("grid")),
    "fn": st.sampled_from(["exact_jacobian", "jacobian_frobenius", "jacobian_spectral", "jacobian_condition",
                           "smallest_singular_value", "jvp"]),
})


def _reg_field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``-diag(1, …, d) y − 0.1 y³`` for any ``d``."""
    return -torch.arange(1, y.shape[-1] + 1, dtype=y.dtype) * y - 0.1 * y ** 3


def _build_reg(kind: str, weight: Any) -> Any:
    return {"frobenius": lambda: regularizers.JacobianFrobenius(weight, estimator="exact"),
            "spectral": lambda: regularizers.JacobianSpectral(weight, iters=5),
            "condition": lambda: regularizers.JacobianCondition(weight, method="exact"),
            "fd": lambda: regularizers.JacobianFD(weight),
            "kinetic": lambda: regularizers.KineticEnergy(weight),
            "ad": lambda: regularizers.JacobianAD(_reg_field, weight, n_samples=2)}[kind]()


def _reg_case(a: dict[str, Any]) -> None:
    ok, reg = call(_build_reg, a["reg"], a["weight"], names=("weight",))
    x = torch.randn(a["x_shape"], dtype=torch.float64) if a["x"] is None else a["x"]
    grid = _is(a["t"], "grid")
    t = torch.linspace(0, 1, x.shape[1]) if grid and isinstance(x, torch.Tensor) and x.dim() == 3 \
        else (None if grid else a["t"])
    names = ("x", "t", "f", "trajector", "dtype", "v", "T")
    if ok:
        ok, out = call(reg, _reg_field, x, t, names=names)
        if ok:
            assert out.dim() == 0
            if _is(a["weight"], 0.0):
                assert float(out) == 0.0 or not math.isfinite(float(out))
    fn = getattr(regularizers, a["fn"])
    if a["fn"] == "jvp":
        ok, out = call(fn, _reg_field, x, x if isinstance(x, torch.Tensor) else None, t=0.0, names=names)
    else:
        ok, out = call(fn, _reg_field, x, t=0.0, names=names + ("method", "iters"))
    if ok and a["fn"] == "exact_jacobian":
        rates = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
        ref = -torch.diag_embed(rates + 0.3 * x ** 2)
        if bool(torch.isfinite(ref).all()):  # where f overflows, so does its Jacobian (no LAPACK involved)
            torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_regularizers(budget: str) -> None:
    run(reg_args, _reg_case, budget)


# ------------------------------------------------------------------------------------------------------ CLI

cli_args = st.lists(st.one_of(
    st.sampled_from(["generate", "info", "systems", "backends", "train", "demo", "--json", "--help", "-v",
                     "--n", "--num", "--t-span", "--t-eval", "--method", "--rtol", "--seed", "--param",
                     "--out", "--epochs", "--resume", "robertson", "two_body", "nosuch", "-1", "0", "1e-3", "nan",
                     "inf", "N=8", "x", "1,0.5", "/nonexistent/dir/x.h5", ".", "sub", "sub/x.h5", "--debug"]),
    st.text(alphabet="ab-=.,01/", max_size=6)), max_size=7)


def _cli_case(argv: list[str]) -> None:
    from pysciml.cli.main import main

    if "generate" in argv or "demo" in argv:  # keep the work of one example small
        argv = [a for a in argv if a not in ("--n", "--num", "--epochs")] + ["--n", "1", "--num", "3",
                                                                           "--epochs", "0"]
    ok, code = call(main, argv)
    if ok:
        assert isinstance(code, int)


def _cli_case_guarded(argv: list[str]) -> None:
    try:
        _cli_case(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), with its own message
        assert exc.code in (0, 2)
        COUNTS[f"cli_argparse_exit_{exc.code}"] += 1


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_cli(budget: str, capsys: pytest.CaptureFixture[str], tmp_path: Any,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # every output path is relative: nothing is written outside the temporary folder
    (tmp_path / "sub").mkdir()
    run(cli_args, _cli_case_guarded, budget)
    assert "Traceback" not in capsys.readouterr().err


def test_harness_classifies_outcomes() -> None:
    saved = COUNTS.copy()
    try:
        with pytest.raises(Defect, match="unhandled IndexError"):
            call(lambda: [][1])
        with pytest.raises(Defect, match="does not name"):
            call(lambda: (_ for _ in ()).throw(ValidationError("something is wrong")), names=("y0",))
        assert call(lambda: 1) == (True, 1)
        with pytest.raises(Defect, match="success status"):
            no_silent_nan(torch.tensor([[1.0], [math.nan]]), torch.tensor([True, True]))
        no_silent_nan(torch.tensor([[1.0], [math.nan]]), torch.tensor([True, False]))
    finally:
        COUNTS.clear()
        COUNTS.update(saved)
    assert BUDGET["slow"] * 8 >= 10_000  # the 8 core targets alone
