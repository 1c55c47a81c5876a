"""``pysciml.compat`` against torchdiffeq on the same calls: values, shapes/dtypes, step counts, gradients, events."""

from __future__ import annotations

import warnings

import pytest
import torch

from pysciml.compat import odeint, odeint_adjoint, odeint_dense, odeint_event
from pysciml.compat._errors import SolveFailedError
from pysciml.errors import InputTypeError, ValidationError

tdq = pytest.importorskip("torchdiffeq")

DT = torch.float64


class Counted(torch.nn.Module):
    """``f(t, y) = tanh(y W) + sin(t)`` on ``y [2, 3]``, counting calls (torchdiffeq's NFE)."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(0.5 * torch.randn(3, 3, generator=g, dtype=DT))
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.tanh(y @ self.w) + torch.sin(t)


def y0_2x3(requires_grad: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, generator=g, dtype=DT).requires_grad_(requires_grad)


T = torch.linspace(0.0, 2.0, 7, dtype=DT)


def both(call: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    """The same call on the shim and on torchdiffeq, with their numbers of evaluations of ``args[0]``."""
    f = args[0]
    out = []
    for lib in (__import__("pysciml.compat", fromlist=["x"]), tdq):
        f.calls = 0
        out.append((getattr(lib, call)(*args, **kwargs), f.calls))
    return out


# values: our dense output is more accurate than torchdiffeq's for bosh3/dopri8 (they interpolate through a low-order
# midpoint), so the two agree to the larger of the two errors; fehlberg2/adaptive_heun run at looser tolerances
ADAPTIVE = {"dopri5": 1e-6, "dopri8": 2e-5, "bosh3": 4e-5, "fehlberg2": 1e-4, "adaptive_heun": 1e-4}


@pytest.fixture(scope="module")
def reference() -> torch.Tensor:
    return odeint(Counted(), y0_2x3(), T, rtol=1e-12, atol=1e-13, method="dopri8")


@pytest.mark.parametrize("method", sorted(ADAPTIVE))
def test_adaptive_methods_agree(method: str, reference: torch.Tensor) -> None:
    f = Counted()
    rtol = 1e-7 if method in ("dopri5", "dopri8", "bosh3") else 1e-4
    (ours, n_ours), (theirs, n_theirs) = both("odeint", f, y0_2x3(), T, rtol=rtol, atol=rtol * 1e-2, method=method)
    assert ours.shape == theirs.shape == (7, 2, 3) and ours.dtype == theirs.dtype
    torch.testing.assert_close(ours, theirs, rtol=0, atol=ADAPTIVE[method])
    # never less accurate than torchdiffeq
    assert (ours - reference).abs().max() <= 1.5 * (theirs - reference).abs().max() + 1e-9
    # the same step control with the same tableaux costs about the same (not exactly: torchdiffeq's dopri5 estimates
    # its error with Shampine's alternative embedded formula; its fehlberg2/adaptive_heun reuse a last stage that
    # is not f(t1, y1) as the next first stage, where we evaluate f(t1, y1))
    assert n_ours <= (2.1 if method in ("fehlberg2", "adaptive_heun") else 1.2) * n_theirs, (n_ours, n_theirs)


FIXED = ["euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams", "fixed_adams"]


@pytest.mark.parametrize("method", FIXED)
@pytest.mark.parametrize("options", [None, {"step_size": 0.05}, {"step_size": 0.07, "interp": "cubic"},
                                     {"step_size": 0.1, "perturb": True}])
def test_fixed_grid_methods_agree(method: str, options: dict | None) -> None:
    f = Counted()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn when the Adams–Moulton iteration does not converge on big steps
        (ours, n_ours), (theirs, n_theirs) = both("odeint", f, y0_2x3(), T, method=method, options=options)
    assert ours.shape == theirs.shape
    tol = 1e-12 if "adams" not in method else (1e-8 if options else 1e-2)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=tol)
    if "adams" not in method:
        assert n_ours == n_theirs


def test_grid_constructor_and_float32() -> None:
    f = Counted()

    def grid(func, y0, t):  # noqa: ANN001, ANN202
        return torch.linspace(float(t[0]), float(t[-1]), 31, dtype=t.dtype)

    (ours, _), (theirs, _) = both("odeint", f, y0_2x3(), T, method="rk4", options={"grid_constructor": grid})
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    f32 = Counted().float()
    (ours, _), (theirs, _) = both("odeint", f32, y0_2x3().float(), T, rtol=1e-5, atol=1e-6)
    assert ours.dtype == theirs.dtype == torch.float32
    torch.testing.assert_close(ours, theirs, rtol=0, atol=5e-5)


def test_shapes_tuples_scalars_single_point_and_decreasing_time() -> None:
    def osc(t: torch.Tensor, s: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return s[1], -s[0] * (1 + 0.1 * t)

    s0 = (torch.tensor([1.0, 0.5], dtype=DT), torch.tensor(0.0, dtype=DT).expand(2).clone())
    for t in (T, T.flip(0), T[:1]):
        ours, theirs = odeint(osc, s0, t), tdq.odeint(osc, s0, t)
        assert isinstance(ours, tuple) and [o.shape for o in ours] == [h.shape for h in theirs]
        for o, h in zip(ours, theirs, strict=True):
            torch.testing.assert_close(o, h, rtol=0, atol=2e-6)
    scalar = torch.tensor(2.0, dtype=DT)
    for t in (T, T.flip(0)):
        ours, theirs = odeint(lambda t, y: -y * t, scalar, t), tdq.odeint(lambda t, y: -y * t, scalar, t)
        assert ours.shape == theirs.shape == (7,)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=5e-6)
    # tolerances per tuple component and per entry
    ours = odeint(osc, s0, T, rtol=(1e-6, 1e-8), atol=(1e-9, 1e-9))
    theirs = tdq.odeint(osc, s0, T, rtol=(1e-6, 1e-8), atol=(1e-9, 1e-9))
    torch.testing.assert_close(ours[0], theirs[0], rtol=0, atol=1e-5)
    per_entry = torch.full((2, 3), 1e-8, dtype=DT)
    (ours, n1), (theirs, n2) = both("odeint", Counted(), y0_2x3(), T, rtol=per_entry, atol=1e-10)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert abs(n1 - n2) <= 0.2 * n2


@pytest.mark.parametrize("options", [
    {"first_step": 0.01}, {"max_step": 0.05}, {"min_step": 0.3}, {"safety": 0.5, "ifactor": 2.0, "dfactor": 0.5},
    {"norm": lambda y: y.abs().max()}, {"step_t": torch.tensor([0.33, 1.1], dtype=DT)}, {"dtype": torch.float32},
])
def test_adaptive_options_take_the_same_steps(options: dict) -> None:
    f = Counted()
    (ours, n_ours), (theirs, n_theirs) = both("odeint", f, y0_2x3(), T, rtol=1e-6, atol=1e-8, options=options)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    assert abs(n_ours - n_theirs) <= 0.2 * n_theirs, (n_ours, n_theirs)


def test_jump_t_steps_onto_a_discontinuity() -> None:
    """``y' = 1`` before ``t = 0.5``, ``-2`` after: with ``jump_t`` both land on the jump and agree to roundoff."""

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(t < 0.5, 1.0, -2.0) * torch.ones_like(y)

    t = torch.tensor([0.0, 1.0], dtype=DT)
    jump = {"jump_t": torch.tensor([0.5], dtype=DT)}
    ours, theirs = odeint(f, torch.zeros(1, dtype=DT), t, options=jump), tdq.odeint(f, torch.zeros(1, dtype=DT), t,
                                                                                      options=jump)
    assert ours[-1].item() == pytest.approx(-0.5, abs=1e-12)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


def test_failures_raise_what_torchdiffeq_raises() -> None:
    f = Counted()
    with pytest.raises(AssertionError, match="max_num_steps"):
        odeint(f, y0_2x3(), T, options={"max_num_steps": 3})
    with pytest.raises(SolveFailedError, match="max_num_steps"):
        odeint(f, y0_2x3(), T, options={"max_num_steps": 3})
    with pytest.raises(ValueError, match="method"):
        odeint(f, y0_2x3(), T, method="dopri9")
    with pytest.raises(TypeError, match="floating"):
        odeint(f, y0_2x3(), torch.arange(3))
    with pytest.raises(ValidationError, match="strictly"):
        odeint(f, y0_2x3(), torch.tensor([0.0, 1.0, 0.5], dtype=DT))
    with pytest.raises(InputTypeError, match="tuple"):
        odeint(f, [1.0, 2.0], T)
    with pytest.raises(ValueError, match="nn.Module"):
        odeint_adjoint(lambda t, y: -y, y0_2x3(), T)
    with pytest.raises(ValidationError, match="safety"):
        odeint(f, y0_2x3(), T, options={"safety": 1.5})
    with pytest.raises(ValidationError, match="max_num_steps"):
        odeint(f, y0_2x3(), T, options={"max_num_steps": 0})
    with pytest.raises(ValidationError, match="interp"):
        odeint(f, y0_2x3(), T, method="rk4", options={"interp": "spline"})
    with pytest.warns(UserWarning, match="does not use"):
        odeint(f, y0_2x3(), T, options={"step_size": 0.1})


def test_backprop_gradients_agree() -> None:
    f = Counted()
    grads = []
    for fn in (odeint, tdq.odeint):
        y0 = y0_2x3(requires_grad=True)
        t = T.clone().requires_grad_(True)
        loss = fn(f, y0, t, rtol=1e-8, atol=1e-10).square().sum()
        grads.append(torch.autograd.grad(loss, [y0, t, f.w]))
    for ours, theirs in zip(*grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("adjoint_options", [None, {"norm": "seminorm"}])
def test_adjoint_gradients_agree(adjoint_options: dict | None) -> None:
    f = Counted()
    grads, calls = [], []
    for fn in (odeint_adjoint, tdq.odeint_adjoint):
        y0 = y0_2x3(requires_grad=True)
        t = T.clone().requires_grad_(True)
        loss = fn(f, y0, t, rtol=1e-8, atol=1e-10, adjoint_options=adjoint_options).square().sum()
        f.calls = 0
        grads.append(torch.autograd.grad(loss, [y0, t, f.w]))
        calls.append(f.calls)
    for ours, theirs in zip(*grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # the backward solve itself is the same algorithm: its cost matches torchdiffeq's to a few steps
    assert abs(calls[0] - calls[1]) <= 0.2 * calls[1], calls
    # and the adjoint agrees with backpropagation through the steps
    y0 = y0_2x3(requires_grad=True)
    direct = torch.autograd.grad(odeint(f, y0, T, rtol=1e-8, atol=1e-10).square().sum(), [y0, f.w])
    torch.testing.assert_close(grads[0][0], direct[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0][2], direct[1], rtol=1e-5, atol=1e-6)


def test_adjoint_of_tuple_state_with_explicit_params() -> None:
    k = torch.tensor(0.8, dtype=DT, requires_grad=True)

    def f(t: torch.Tensor, s: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return s[1], -k * s[0]

    grads = []
    for fn in (odeint_adjoint, tdq.odeint_adjoint):
        s0 = (torch.tensor([1.0], dtype=DT, requires_grad=True), torch.tensor([0.0], dtype=DT))
        out = fn(f, s0, T.flip(0), adjoint_params=(k,))
        grads.append(torch.autograd.grad(out[0].sum() + out[1].square().sum(), [s0[0], k]))
    for ours, theirs in zip(*grads, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


def falling(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A ball under gravity with a little drag: ``y = [height, velocity]``."""
    return torch.stack([y[1], -9.81 - 0.1 * y[1]])


@pytest.mark.parametrize("method,options", [("dopri5", None), ("bosh3", None), ("rk4", {"step_size": 0.01}),
                                            ("euler", {"step_size": 0.01, "interp": "cubic"})])
@pytest.mark.parametrize("reverse_time", [False, True])
def test_events_at_the_same_times_with_the_same_gradients(method: str, options: dict | None,
                                                          reverse_time: bool) -> None:
    results = []
    for fn in (odeint_event, tdq.odeint_event):
        y0 = torch.tensor([2.0, 1.5], dtype=DT, requires_grad=True)
        t0 = torch.tensor(0.3, dtype=DT)
        event_t, sol = fn(falling, y0, t0, event_fn=lambda t, y: y[0], reverse_time=reverse_time, method=method,
                          options=options, rtol=1e-8, atol=1e-10)
        assert sol.shape == (2, 2)
        grads = torch.autograd.grad(event_t + sol[-1, 1], y0)
        results.append((event_t.detach(), sol.detach(), grads[0]))
    (t_ours, s_ours, g_ours), (t_theirs, s_theirs, g_theirs) = results
    # torchdiffeq's bosh3 interpolates through a first-order midpoint: its event time is the less accurate one
    tol = {"dopri5": 1e-7, "bosh3": 1e-6}.get(method, 1e-9)
    torch.testing.assert_close(t_ours, t_theirs, rtol=0, atol=tol)
    assert abs(s_ours[-1, 0].item()) < 1e-7  # on the event surface
    torch.testing.assert_close(s_ours, s_theirs, rtol=0, atol=20 * tol)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-5, atol=1e-6)


def test_event_gradient_matches_finite_differences() -> None:
    """``d t_e / d v0`` by the implicit-function rerouting against central differences of the event time."""

    def event_time(v0: torch.Tensor) -> torch.Tensor:
        y0 = torch.stack([torch.tensor(2.0, dtype=DT), v0])
        return odeint_event(falling, y0, torch.tensor(0.0, dtype=DT), event_fn=lambda t, y: y[0], rtol=1e-10,
                            atol=1e-12)[0]

    v0 = torch.tensor(1.5, dtype=DT, requires_grad=True)
    (g,) = torch.autograd.grad(event_time(v0), v0)
    eps = 1e-5
    fd = (event_time(torch.tensor(1.5 + eps, dtype=DT)) - event_time(torch.tensor(1.5 - eps, dtype=DT))) / (2 * eps)
    assert g.item() == pytest.approx(fd.item(), rel=1e-6)


def test_events_with_tuples_adjoint_and_multiple_conditions() -> None:
    def f(t: torch.Tensor, s: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return s[1], -9.81 * torch.ones_like(s[1])

    def event(t: torch.Tensor, s: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.cat([s[0], (1.0 - t).reshape(1)])  # hit the ground, or t = 1: whichever comes first

    out = []
    for lib in (__import__("pysciml.compat", fromlist=["x"]), tdq):
        s0 = (torch.tensor([2.0], dtype=DT, requires_grad=True), torch.tensor([0.0], dtype=DT))
        event_t, sol = lib.odeint_event(f, s0, torch.tensor(0.0, dtype=DT), event_fn=event,
                                        odeint_interface=lib.odeint_adjoint, adjoint_params=())
        out.append((event_t.item(), torch.autograd.grad(event_t, s0[0])[0]))
    assert out[0][0] == pytest.approx((2 * 2.0 / 9.81) ** 0.5, abs=1e-8)
    assert out[0][0] == pytest.approx(out[1][0], abs=1e-8)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-6, atol=1e-8)


@pytest.mark.filterwarnings("ignore:The following arguments have no effect")  # torchdiffeq passes min_step
def test_scipy_solver_and_pysciml_methods(reference: torch.Tensor) -> None:
    f = Counted()
    for solver in ("LSODA", "RK45", "Radau"):
        options = {"solver": solver}
        ours = odeint(f, y0_2x3(), T, method="scipy_solver", rtol=1e-9, atol=1e-11, options=options)
        theirs = tdq.odeint(f, y0_2x3(), T, method="scipy_solver", rtol=1e-9, atol=1e-11, options=options)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-7)
    for method in ("tsit5", "rodas5p"):
        torch.testing.assert_close(odeint(f, y0_2x3(), T, method=method, rtol=1e-8, atol=1e-10), reference, rtol=0,
                                   atol=1e-6)


def test_perturb_evaluates_each_side_of_a_grid_discontinuity() -> None:
    """``f`` jumps at ``t = 0.5``, a grid point: with ``perturb=True`` the step ending there sees ``f`` just before
    it and the next step just after it, as in torchdiffeq (without it, the step ending at 0.5 would use ``t = 0.5``)."""

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(t < 0.5, 1.0, -2.0) * torch.ones_like(y)

    t = torch.tensor([0.0, 0.5, 1.0], dtype=DT)
    for method in ("euler", "midpoint", "heun2", "rk4"):
        options = {"step_size": 0.1, "perturb": True}
        ours = odeint(f, torch.zeros(1, dtype=DT), t, method=method, options=options)
        theirs = tdq.odeint(f, torch.zeros(1, dtype=DT), t, method=method, options=options)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
        assert ours[1].item() == pytest.approx(0.5, abs=1e-12) and ours[2].item() == pytest.approx(-0.5, abs=1e-12)


def test_user_norms_see_the_users_layout() -> None:
    """A callable ``norm`` gets the state shaped like ``y0`` (a tuple for tuple states), and an adjoint norm the
    tuple ``(t, y, adj_y, *adj_params)`` with ``y``, ``adj_y`` shaped like ``y0``, as in torchdiffeq."""
    seen: list[tuple] = []

    def norm(state: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(state.shape))
        return state.pow(2).mean().sqrt()

    odeint(lambda t, y: -y, torch.ones(2, 2, dtype=DT), T, options={"norm": norm})
    assert set(seen) == {(2, 2)}
    seen.clear()
    k = torch.tensor(0.5, dtype=DT, requires_grad=True)

    def adjoint_norm(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
        seen.append(tuple(tuple(p.shape) for p in parts))
        return max(p.abs().max() for p in parts)

    ys = odeint_adjoint(lambda t, y: -k * y, torch.ones((), dtype=DT), T, adjoint_params=(k,),
                        adjoint_options={"norm": adjoint_norm})
    ys.sum().backward()
    assert set(seen) == {((), (), (), ())}
    assert k.grad is not None


@pytest.mark.filterwarnings("ignore:.*did not converge")  # torchdiffeq's Adams–Moulton on steps of 0.1
@pytest.mark.parametrize("method", ["dopri5", "rk4", "implicit_adams"])
def test_step_callbacks(method: str) -> None:
    """``func.callback_step`` / ``callback_accept_step`` / ``callback_reject_step`` and their ``_adjoint`` versions
    are called per step as in torchdiffeq (same counts on a fixed grid; accept + reject = steps when adaptive)."""
    counts = []
    for lib in (__import__("pysciml.compat", fromlist=["x"]), tdq):
        f = Counted()
        count: dict[str, int] = {}
        names = ["callback_step"] + (["callback_accept_step", "callback_reject_step"] if method == "dopri5" else [])
        for name in names:
            for suffix in ("", "_adjoint"):
                def cb(t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor, key: str = name + suffix) -> None:
                    assert isinstance(y0, tuple) if key.endswith("_adjoint") else y0.shape == (2, 3)
                    count[key] = count.get(key, 0) + 1

                setattr(f, name + suffix, cb)
        options = None if method == "dopri5" else {"step_size": 0.1}
        lib.odeint_adjoint(f, y0_2x3(), T, method=method, options=options).sum().backward()
        counts.append(count)
    ours, theirs = counts
    assert set(ours) == set(theirs)
    if method != "dopri5":
        assert ours == theirs
    else:
        for suffix in ("", "_adjoint"):
            assert ours["callback_step" + suffix] == (ours["callback_accept_step" + suffix]
                                                       + ours["callback_reject_step" + suffix]) > 0
    with pytest.warns(UserWarning, match="does not call the callbacks"):
        g = Counted()
        g.callback_accept_step = lambda t0, y0, dt: None
        odeint(g, y0_2x3(), T, method="rk4")


def test_odeint_dense() -> None:
    f = Counted()
    y0 = y0_2x3()
    t_eval = torch.linspace(0.1, 1.9, 13, dtype=DT)
    ours = odeint_dense(f, y0, torch.tensor(0.0, dtype=DT), torch.tensor(2.0, dtype=DT))
    theirs = tdq.odeint_dense(f, y0, torch.tensor(0.0, dtype=DT), torch.tensor(2.0, dtype=DT))
    ref = odeint(f, y0, torch.cat([torch.zeros(1, dtype=DT), t_eval]), rtol=1e-12, atol=1e-13)[1:]
    theirs_values = torch.stack([theirs(tk) for tk in t_eval])  # torchdiffeq's takes one time per call
    assert ours(t_eval).shape == theirs_values.shape == (13, 2, 3) and ours(t_eval[3]).shape == (2, 3)
    torch.testing.assert_close(ours(t_eval), theirs_values, rtol=0, atol=2e-6)
    torch.testing.assert_close(ours(t_eval), ref, rtol=0, atol=2e-6)
    backwards = odeint_dense(f, y0, torch.tensor(2.0, dtype=DT), torch.tensor(0.0, dtype=DT))
    torch.testing.assert_close(backwards(torch.tensor(2.0, dtype=DT)), y0)
    with pytest.raises(ValidationError, match="outside"):
        ours(torch.tensor([2.5], dtype=DT))
