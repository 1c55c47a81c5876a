"""Lighter fuzz of the data, training and compatibility entry points: solve, generate/load_dataset,
TrajectoryData, RolloutTrainer, checkpoints, compat.odeint.

The same guarantees as :mod:`test_fuzz_core`. Defects whose fixes belong to other work items are marked
``xfail(strict=False)`` with the owning item in the reason (they must not be fixed here, and the mark goes
once the owner's fix lands).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fuzz_harness import Defect, call, junk, maybe, no_silent_nan, run, tensors
from hypothesis import strategies as st

from pysciml import compat, models
from pysciml.data import TrajectoryData, generate, load_dataset
from pysciml.ground_truth import solve
from pysciml.training import RolloutTrainer
from pysciml.training.checkpoint import load_checkpoint, save_checkpoint

BUDGETS = ["default", pytest.param("slow", marks=pytest.mark.slow)]

solve_args = st.fixed_dictionaries({
    "system": maybe(st.sampled_from(["robertson", "two_body", "rigid_body", "transient_growth"]), p_junk=6),
    "y0": maybe(st.none()),
    "y0_scale": st.sampled_from([1.0, 1e3, 1e200]),
    "t_eval": maybe(st.sampled_from(["grid", "grid", "short", "reversed"])),
    "method": maybe(st.sampled_from(["Radau", "BDF", "RK45", "DOP853", "Rodas5P", "Rosenbrock23"]), p_junk=6),
    "rtol": maybe(st.sampled_from([1e-6, 1e-3])),
    "atol": maybe(st.sampled_from([1e-8, 1e-6])),
    "complex": st.booleans(),
})


def _times(kind: Any) -> Any:
    if not isinstance(kind, str) or kind not in ("grid", "short", "reversed"):
        return kind
    return {"grid": np.linspace(0.0, 0.1, 4), "short": np.array([0.0]), "reversed": np.array([1.0, 0.0])}[kind]


def _solve_case(a: dict[str, Any]) -> None:
    from pysciml import systems

    y0 = a["y0"]
    if y0 is None and isinstance(a["system"], str) and a["system"] in systems.available():
        y0 = systems.get(a["system"]).initial_conditions(2) * a["y0_scale"]
        if a["complex"]:
            y0 = y0 + 1j
    ok, sol = call(solve, a["system"], y0, _times(a["t_eval"]), method=a["method"], rtol=a["rtol"],
                   atol=a["atol"], max_steps=2000,
                   names=("system", "y0", "t_eval", "method", "rtol", "atol", "backend", "complex"))
    if ok:
        no_silent_nan(sol.y, np.asarray(sol.status) == 0)
        if a["complex"] and y0 is not None and np.iscomplexobj(y0):
            raise Defect("a complex y0 was accepted: its imaginary part is silently dropped")


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_solve(budget: str) -> None:
    run(solve_args, _solve_case, budget, light=True, owner="ground-truth")


generate_args = st.fixed_dictionaries({
    "n": maybe(st.sampled_from([1, 2])),
    "t_eval": maybe(st.just("grid")),
    "path": st.sampled_from(["ok.h5", "", ".", "missing/dir/x.h5", "/proc/x.h5", "ok.h5/inner.h5"]),
    "chunk_size": maybe(st.sampled_from([1, 64, 0])),
    "corrupt": st.sampled_from(["none", "truncate", "zero", "garbage"]),
})


def _generate_case(a: dict[str, Any], folder: Path) -> None:
    path = a["path"] if a["path"].startswith("/") else str(folder / a["path"]) if a["path"] else ""
    ok, data = call(generate, "robertson", a["n"], _times(a["t_eval"]), path, method="Rodas5P",
                    chunk_size=a["chunk_size"], progress=False,
                    names=("n", "t_eval", "path", "chunk_size", "directory", "file", "folder"))
    if not ok:
        return
    no_silent_nan(data.y, np.asarray(data.status) == 0)
    if a["corrupt"] != "none":
        raw = bytearray(Path(path).read_bytes())
        if a["corrupt"] == "truncate":
            raw = raw[: len(raw) // 2]
        elif a["corrupt"] == "zero":
            raw[len(raw) // 2:] = bytes(len(raw) - len(raw) // 2)
        else:
            raw[100:200] = b"x" * 100
        Path(path).write_bytes(bytes(raw))
    ok, back = call(load_dataset, path, names=("path", "dataset", "file", "checksum"))
    if ok and a["corrupt"] == "none":
        np.testing.assert_array_equal(back.y, data.y)
    Path(path).unlink(missing_ok=True)


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_generate_load(budget: str, tmp_path: Path) -> None:
    run(generate_args, lambda a: _generate_case(a, tmp_path), budget, light=True, owner="ground-truth")


trajectory_args = st.fixed_dictionaries({
    "t": maybe(st.just("ok")),
    "y": maybe(st.one_of(st.just("ok"), tensors().map(lambda x: x.numpy() if x.dtype == torch.float64 else x))),
    "status": maybe(st.none()),
    "meta": maybe(st.just({})),
})


def _trajectory_case(a: dict[str, Any]) -> None:
    t = np.linspace(0, 1, 3) if isinstance(a["t"], str) else a["t"]
    y = np.zeros((2, 3, 2)) if isinstance(a["y"], str) else a["y"]
    ok, data = call(TrajectoryData, t, y, a["meta"], a["status"], names=("t", "y", "meta", "status"))
    if ok:
        assert data.y.shape[0] == data.n and data.y.shape[1] == data.t.shape[0]


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_trajectory_data(budget: str) -> None:
    run(trajectory_args, _trajectory_case, budget, light=True, owner="ground-truth")


trainer_args = st.fixed_dictionaries({
    "lr": maybe(st.sampled_from([1e-3, 1e6, 0.0])),
    "epochs": maybe(st.sampled_from([1, 0])),
    "window": maybe(st.sampled_from([2, 3, 100])),
    "batch_size": maybe(st.sampled_from([2, 0])),
    "method": st.sampled_from(["rk4", "dopri5", "nosuch"]),
    "y_scale": st.sampled_from([1.0, 1e6, math.nan]),
})


def _trainer_case(a: dict[str, Any], folder: Path) -> None:
    data = TrajectoryData(np.linspace(0, 1, 4), np.random.default_rng(0).normal(size=(3, 4, 2)) * a["y_scale"])
    model = models.MLPVectorField(2, hidden=4, layers=1).double()
    ok, trainer = call(RolloutTrainer, model, data, window=a["window"], batch_size=a["batch_size"],
                       method=a["method"], step_size=0.25, lr=a["lr"], epochs=a["epochs"], progress=False,
                       out_dir=folder, names=("lr", "epochs", "window", "batch_size", "method", "train_data",
                                              "data", "y", "non-finite"))
    if ok:
        ok, result = call(trainer.fit, names=("lr", "method", "diverged", "loss", "non-finite"))
    ok, _ = call(load_checkpoint, folder / "checkpoint.pt", names=("checkpoint",))


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_trainer_checkpoint(budget: str, tmp_path: Path) -> None:
    run(trainer_args, lambda a: _trainer_case(a, tmp_path), budget, light=True, owner="trainer")


checkpoint_args = st.fixed_dictionaries({
    "payload": st.one_of(st.just({"w": torch.ones(2)}), junk()),
    "corrupt": st.sampled_from(["none", "flip", "truncate", "empty"]),
    "offset": st.integers(0, 10_000),
})


def _checkpoint_case(a: dict[str, Any], folder: Path) -> None:
    path = folder / "ck.pt"
    ok, _ = call(save_checkpoint, path, a["payload"], names=("payload", "path"))
    if not ok or not path.exists():
        return
    raw = bytearray(path.read_bytes())
    if a["corrupt"] == "flip":
        raw[a["offset"] % len(raw)] ^= 0x10
    elif a["corrupt"] == "truncate":
        raw = raw[: a["offset"] % len(raw)]
    elif a["corrupt"] == "empty":
        raw = bytearray()
    path.write_bytes(bytes(raw))
    ok, back = call(load_checkpoint, path, names=("checkpoint",))
    if ok and a["corrupt"] == "none":
        torch.testing.assert_close(back["w"], torch.ones(2))
    if ok and a["corrupt"] == "flip" and isinstance(back.get("w"), torch.Tensor):
        assert torch.equal(back["w"], torch.ones(2)), "a flipped bit went unnoticed"


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_checkpoints(budget: str, tmp_path: Path) -> None:
    run(checkpoint_args, lambda a: _checkpoint_case(a, tmp_path), budget, light=True, owner="trainer")


compat_args = st.fixed_dictionaries({
    "y0": maybe(st.none()),
    "t": maybe(st.none()),
    "method": st.one_of(st.none(), st.sampled_from(["dopri5", "rk4", "euler", "nosuch"])),
    "options": maybe(st.one_of(st.none(), st.just({"step_size": 0.1}))),
    "out": st.sampled_from(["ok", "wrong_shape", "numpy", "float32"]),
})


def _compat_case(a: dict[str, Any]) -> None:
    y0 = torch.ones(2, dtype=torch.float64) if a["y0"] is None else a["y0"]
    t = torch.linspace(0, 1, 3, dtype=torch.float64) if a["t"] is None else a["t"]

    def f(tt: torch.Tensor, y: torch.Tensor) -> Any:
        return {"ok": lambda: -y, "wrong_shape": lambda: -y[..., :1], "numpy": lambda: (-y).detach().numpy(),
                "float32": lambda: (-y).float()}[a["out"]]()

    options = a["options"]
    if a["method"] in ("rk4", "euler") and options is None:
        options = {"step_size": 0.1}
    ok, ys = call(compat.odeint, f, y0, t, method=a["method"], options=options,
                  names=("y0", "t", "method", "options", "func", "f ", "step_size", "shape", "dtype", "field"))
    if ok:
        assert torch.isfinite(ys).all()


@pytest.mark.parametrize("budget", BUDGETS)
def test_fuzz_compat(budget: str) -> None:
    run(compat_args, _compat_case, budget, light=True, owner="compat")
