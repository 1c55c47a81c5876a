"""Engine: per-sample stepping, batch invariance, statuses, inputs, per-sample times, compat shim."""

from __future__ import annotations

import pytest
import torch

import pysciml
from pysciml.errors import InputTypeError, UnknownNameError, ValidationError
from pysciml.integrators.controller import PIController
from pysciml.status import Status

DT = torch.float64


def relaxation(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x' = -k (x - sin t)``, ``k' = 0``: the rate ``k`` (second component) makes a sample fast/stiff."""
    return torch.stack([-y[:, 1] * (y[:, 0] - torch.sin(t)), torch.zeros_like(y[:, 1])], dim=1)


def test_batch_invariance_with_a_fast_sample() -> None:
    slow = torch.tensor([[1.0, 1.0], [0.5, 2.0]], dtype=DT)
    fast = torch.tensor([[1.0, 500.0]], dtype=DT)
    t = torch.linspace(0.0, 3.0, 7, dtype=DT)
    alone = pysciml.odeint(relaxation, slow, t, method="dopri5", rtol=1e-6, atol=1e-8)
    mixed = pysciml.odeint(relaxation, torch.cat([slow[:1], fast, slow[1:]]), t, method="dopri5", rtol=1e-6,
                           atol=1e-8)
    keep = torch.tensor([0, 2])
    for key in ("n_steps", "n_accepted", "n_rejected", "n_f_evals"):
        assert torch.equal(alone.stats[key], mixed.stats[key][keep]), key
    assert torch.allclose(alone.ys, mixed.ys[keep], rtol=0, atol=1e-14)
    # the fast sample needed many more steps, and it did not impose them on the others
    assert int(mixed.stats["n_steps"][1]) > 5 * int(mixed.stats["n_steps"][keep].max())
    assert bool(mixed.success.all())


@pytest.mark.parametrize(("first_max_factor", "steps"), [(1e4, 4), (10.0, 7)])
def test_step_growth_after_the_first_step_and_later(first_max_factor: float, steps: int) -> None:
    """With a zero error estimate every step grows by the cap: h0, h0·F1, h0·F1·F, ... (F1 = first_max_factor,
    F = max_factor = 10). From h0 = 1e-6 on [0, 1]: F1 = 1e4 gives 1e-6, 1e-2, 0.1 and the rest (4 steps);
    F1 = 10 gives 1e-6, ..., 0.1 and the rest (7 steps)."""
    still = torch.tensor([[1.0, 0.0]], dtype=DT)  # k = 0: x' = 0 exactly
    sol = pysciml.odeint(relaxation, still, [0.0, 1.0], first_step=1e-6, first_max_factor=first_max_factor)
    assert sol.stats["n_steps"].tolist() == [steps] and sol.stats["n_rejected"].tolist() == [0]
    # a sample whose first attempts are rejected keeps its first-step allowance until it has one accepted step,
    # and the rejections of one sample change nothing for another
    stiff = torch.tensor([[1.0, 1e4]], dtype=DT)
    both = pysciml.odeint(relaxation, torch.cat([still, stiff]), [0.0, 1.0], first_step=1e-2,
                          first_max_factor=first_max_factor)
    for b, y0 in enumerate((still, stiff)):
        alone = pysciml.odeint(relaxation, y0, [0.0, 1.0], first_step=1e-2, first_max_factor=first_max_factor)
        for key in ("n_steps", "n_rejected", "n_f_evals"):
            assert both.stats[key][b:b + 1].tolist() == alone.stats[key].tolist(), (b, key)
        assert torch.equal(both.ys[b], alone.ys[0])
    assert int(both.stats["n_rejected"][1]) > 0 and bool(both.success.all())


def test_controller_clips_the_factor() -> None:
    ratio = torch.tensor([0.0, 1e-12, 0.5, 2.0, float("inf")], dtype=DT)
    accept = ratio <= 1
    prev = torch.ones_like(ratio)
    for ctrl in (PIController(order=5), PIController(order=5, pcoeff=0.4, icoeff=0.3)):
        fac = ctrl.factor(ratio, prev, accept)
        assert bool(((fac >= ctrl.min_factor) & (fac <= ctrl.max_factor)).all())
        assert bool((fac[~accept] <= 1.0).all()), ctrl  # never grow after a rejection
        assert float(fac[0]) == ctrl.max_factor and float(fac[-1]) == ctrl.min_factor
        capped = ctrl.factor(ratio, prev, accept, torch.tensor([1e4, 1e4, 1e4, 1e4, 10.0], dtype=DT))
        assert float(capped[0]) == 1e4 and float(capped[1]) > ctrl.max_factor
    plain = PIController(order=5)
    assert torch.allclose(plain.factor(ratio[2:4], prev[2:4], accept[2:4]), 0.9 * ratio[2:4] ** -0.2)


def test_fixed_step_blow_up_is_flagged_and_others_finish() -> None:
    y0 = torch.tensor([[1.0], [0.1]], dtype=DT)  # y' = y², blows up at t = 1 / y0
    t = torch.linspace(0.0, 2.0, 5, dtype=DT)
    sol = pysciml.odeint(lambda tt, y: y**2, y0, t, method="rk4", step_size=0.01)
    assert sol.status.tolist() == [int(Status.NON_FINITE), int(Status.SUCCESS)]
    assert torch.isnan(sol.ys[0, 3:]).all() and torch.isfinite(sol.ys[0, :2]).all()
    exact = 0.1 / (1 - 0.1 * t)
    assert torch.allclose(sol.ys[1, :, 0], exact, rtol=1e-8)


def test_adaptive_statuses() -> None:
    y0 = torch.tensor([[1.0], [0.1]], dtype=DT)
    t = torch.tensor([0.0, 2.0], dtype=DT)
    sol = pysciml.odeint(lambda tt, y: y**2, y0, t)
    assert int(sol.status[0]) != int(Status.SUCCESS) and int(sol.status[1]) == int(Status.SUCCESS)
    assert torch.isnan(sol.ys[0, 1]).all()
    assert abs(float(sol.ys[1, 1, 0]) - 0.1 / 0.8) < 1e-7
    capped = pysciml.odeint(lambda tt, y: y**2, y0, t, max_steps=5)
    assert int(capped.status[0]) == int(Status.MAX_STEPS) and int(capped.stats["n_steps"][0]) == 5
    small = pysciml.odeint(lambda tt, y: y**2, y0, t, dt_min=1e-3)
    assert int(small.status[0]) == int(Status.STEP_SIZE_TOO_SMALL) and int(small.status[1]) == 0


def test_per_sample_times_and_tolerance_tensors() -> None:
    y0 = torch.tensor([[1.0, 2.0], [0.5, 1.0]], dtype=DT)
    t = torch.tensor([[0.0, 0.5, 1.0], [1.0, 2.0, 4.0]], dtype=DT)
    atol = torch.tensor([1e-9, 1e-10], dtype=DT)
    sol = pysciml.odeint(relaxation, y0, t, atol=atol, rtol=1e-8)
    for b in range(2):
        single = pysciml.odeint(relaxation, y0[b:b + 1], t[b], atol=atol, rtol=1e-8)
        assert torch.allclose(sol.ys[b], single.ys[0], atol=1e-14, rtol=0)
        assert torch.equal(sol.stats["n_steps"][b:b + 1], single.stats["n_steps"])
    assert sol.ys.shape == (2, 3, 2) and sol.ts.shape == (2, 3)


def test_time_is_a_batch_tensor_and_backwards_integration() -> None:
    seen = []

    def f(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(tt.shape == y.shape[:1] and tt.dtype == y.dtype)
        return -y + torch.cos(tt)[:, None]

    y0 = torch.ones(3, 1, dtype=torch.float32)
    fwd = pysciml.odeint(f, y0, [0.0, 1.0])
    assert all(seen) and fwd.ys.dtype == torch.float32 and fwd.ts.dtype == DT
    back = pysciml.odeint(f, fwd.ys[:, -1], [1.0, 0.0], rtol=1e-6, atol=1e-7)
    assert torch.allclose(back.ys[:, -1], y0, atol=1e-5)


def test_stats_and_nfe_counting() -> None:
    calls = {"n": 0, "rows": 0}

    def f(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        calls["rows"] += y.shape[0]
        return relaxation(tt, y)

    y0 = torch.tensor([[1.0, 1.0], [1.0, 50.0]], dtype=DT)
    sol = pysciml.odeint(f, y0, [0.0, 1.0])
    assert sol.n_calls == calls["n"]
    assert int(sol.stats["n_f_evals"].sum()) == calls["rows"]
    assert sol.nfe == int(sol.stats["n_f_evals"].max())
    assert torch.equal(sol.stats["n_steps"], sol.stats["n_accepted"] + sol.stats["n_rejected"])
    fixed = pysciml.odeint(f, y0, [0.0, 1.0], method="rk4", step_size=0.1)
    assert fixed.stats["n_f_evals"].tolist() == [40, 40]


def test_input_validation() -> None:
    y0 = torch.ones(2, 1, dtype=DT)
    f = lambda tt, y: -y  # noqa: E731
    with pytest.raises(UnknownNameError, match="method"):
        pysciml.odeint(f, y0, [0.0, 1.0], method="rk99")
    with pytest.raises(ValidationError, match="step_size"):
        pysciml.odeint(f, y0, [0.0, 1.0], method="rk4")
    with pytest.raises(ValidationError, match="monotone"):
        pysciml.odeint(f, y0, [0.0, 1.0, 0.5])
    with pytest.raises(ValidationError, match="rtol"):
        pysciml.odeint(f, y0, [0.0, 1.0], rtol=-1.0)
    with pytest.raises(ValidationError, match="batch first"):
        pysciml.odeint(f, torch.ones(3, dtype=DT), [0.0, 1.0])
    with pytest.raises(ValidationError, match="non-finite"):
        pysciml.odeint(f, torch.full((1, 1), float("nan")), [0.0, 1.0])
    with pytest.raises(InputTypeError, match="y0"):
        pysciml.odeint(f, [[1.0]], [0.0, 1.0])
    with pytest.raises(ValidationError, match="atol"):
        pysciml.odeint(f, y0, [0.0, 1.0], atol=torch.ones(3, dtype=DT))
    with pytest.raises(ValidationError, match="first_max_factor"):
        pysciml.odeint(f, y0, [0.0, 1.0], first_max_factor=0.5)
    with pytest.raises(ValidationError, match="adjoint=True"):
        pysciml.odeint(f, y0, [0.0, 1.0], adjoint_rtol=1e-3)


def test_compat_matches_torchdiffeq_conventions() -> None:
    torchdiffeq = pytest.importorskip("torchdiffeq")
    from pysciml.compat import odeint

    def f(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        assert tt.dim() == 0
        return -y * torch.cos(tt) + y.mean()

    y0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    t = torch.linspace(0.0, 2.0, 5, dtype=DT)
    ours = odeint(f, y0, t)
    theirs = torchdiffeq.odeint(f, y0, t, rtol=1e-7, atol=1e-9)
    assert ours.shape == (5, 4, 3)
    assert torch.allclose(ours, theirs, atol=1e-6)
    fixed = odeint(f, y0, t, method="rk4", options={"step_size": 0.05})
    assert torch.allclose(fixed, theirs, atol=1e-6)


@pytest.mark.parametrize("method", ["dopri5", "rodas5p"])
def test_checkpointing_gives_the_same_gradients(method: str) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    y0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0, 1, 4, dtype=torch.float64)
    grads = []
    for checkpoint in (False, True):
        sol = pysciml.odeint(lambda t, y: net(y), y0, t, method=method, rtol=1e-6, atol=1e-8,
                             checkpoint=checkpoint)
        grads.append(torch.autograd.grad(sol.ys.square().sum(), [y0, *net.parameters()]))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    # what autograd keeps for the backward pass shrinks (stage activations are recomputed instead)
    saved = []
    for checkpoint in (False, True):
        sizes: list[int] = []

        def pack(x: torch.Tensor, sizes: list[int] = sizes) -> torch.Tensor:
            sizes.append(x.numel())
            return x

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            pysciml.odeint(lambda t, y: net(y), y0, t, method=method, rtol=1e-6, atol=1e-8, checkpoint=checkpoint)
        saved.append(sum(sizes))
    assert saved[1] < 0.5 * saved[0], saved
    with pytest.raises(InputTypeError, match="checkpoint"):
        pysciml.odeint(lambda t, y: net(y), y0, t, method="dopri5", checkpoint="yes")
