"""Benchmark: SNet (δ-SNet, α-SNet) vs backpropagation through Euler / dopri5 and the adjoint, vehicle problem.

Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural ODEs for System
Identification" (ICLR 2020, arXiv:1906.07038), §5, Table 1a (high-data regime): the planar vehicle
(``pysciml.systems.Vehicle``, 6 states, Fourier-series input), 100 training trajectories sampled at 100 equally
spaced times on T = 10 s, the structured surrogate ``pysciml.models.VehicleSurrogate`` (same initial weights
for every method), Adam lr 1e-2 for θ (all methods), SGD lr 1e-3 for α-SNet's trajectory, γ = 3, 10 + 10
steps per α-SNet iteration, p = 14, initial perturbation U(−0.1, 0.1).

Methods, all in this one process, float64, one thread (solver baselines integrate the batch in lockstep: one
step size and error norm for the whole batch, as torchdiffeq does; ``odeint`` alone controls each sample):
* δ-SNet / α-SNet: :class:`pysciml.training.snet.SNetTrainer` (inputs given as samples, fitted as series);
* BKPR-Euler: backprop through ``pysciml.odeint(method="euler", step_size=sampling time)``;
* BKPR-dopri5: backprop through ``pysciml.odeint(method="dopri5", rtol=1e-7, atol=1e-9)``;
* ADJ-dopri5 (full mode only): the same with ``adjoint=True``.

The training loss compared across methods is the same for all: the MSE of the surrogate's dopri5 rollout
(rtol 1e-7) from the true initial states against the training data, evaluated at powers of two and every
few iterations (fixed per method), outside the timed region. "Time to loss" is the optimisation time
(training steps only, wall clock) until that loss first falls below the target, the larger of the best
losses reached by δ-SNet and BKPR-dopri5 (so both reach it). Test: 10 new trajectories over a 10x horizon
(100 s, 1000 samples), MSE of the rollout.

Last line: ``snet_time_to_loss_vs_dopri5=<ratio> snet_test_mse=<m> dopri5_test_mse=<m>`` (ratio =
BKPR-dopri5's time to the target / δ-SNet's).

Usage: ``python benchmarks/bench_snet.py [--quick] [--out DIR]`` (``--quick``: < 5 min on one core).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from pysciml import systems
from pysciml.io import atomic_path, save_figure
from pysciml.models import VehicleSurrogate
from pysciml.training import Callback, rollout_mse, rollout_with_input, simulate_with_inputs
from pysciml.training.snet import SNetTrainer

PAPER = {  # Table 1a: time per iteration [ms], iterations, final loss, test MSE
    "delta-SNet": (8.3, 480, 0.011, 0.109), "alpha-SNet": (134, 100, 0.011, 0.019),
    "BKPR-Euler": (97, 1200, 0.047, 0.476), "BKPR-dopri5": (185, 1140, 0.011, 0.307),
    "ADJ-dopri5": (3516, 1140, 0.011, 0.35)}


class Recorder:
    """Rollout-loss history and trajectory snapshots of one method."""

    def __init__(self, name: str, model: torch.nn.Module, series: Any, y: torch.Tensor, t: torch.Tensor,
                 eval_every: int, snapshots: tuple[int, ...]) -> None:
        self.name, self.model, self.series, self.y, self.t = name, model, series, y, t
        self.eval_every, self.snapshots = eval_every, snapshots
        self.history: list[dict[str, float]] = []
        self.shots: dict[int, torch.Tensor] = {}

    def __call__(self, it: int, elapsed: float, last: bool = False) -> None:
        """After iteration ``it`` (``-1``: before training): rollout loss every ``eval_every`` iterations and at
        powers of two (early progress), trajectories at the snapshot iterations."""
        n = it + 1
        if n % self.eval_every == 0 or last or n in self.snapshots or (n & (n - 1)) == 0:
            loss = rollout_mse(self.model, self.series, self.y, self.t)
            self.history.append({"iteration": it + 1, "time": elapsed, "loss": loss})
        if it + 1 in self.snapshots or last:
            with torch.no_grad():
                try:
                    self.shots[it + 1] = rollout_with_input(self.model, self.series.select(torch.arange(3)),
                                                            self.y[:3, 0], self.t, max_steps=20_000)
                except (RuntimeError, ValueError):
                    pass

    def time_to(self, target: float) -> float:
        return next((h["time"] for h in self.history if h["loss"] <= target), math.inf)

    def best(self) -> float:
        return min((h["loss"] for h in self.history), default=math.inf)


class RecordIterations(Callback):
    """Feeds the SNet trainer's iterations to a :class:`Recorder` (outside the timed region)."""

    def __init__(self, rec: Recorder, iters: int) -> None:
        self.rec, self.iters = rec, iters

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        it = record["iteration"]
        self.rec(it, record["time"], last=it == self.iters - 1)


def train_snet(method: str, y: torch.Tensor, t: torch.Tensor, u_samples: torch.Tensor, series: Any, iters: int,
               eval_every: int, snapshots: tuple[int, ...], hidden: int) -> tuple[Recorder, float]:
    torch.manual_seed(0)
    model = VehicleSurrogate(hidden)
    rec = Recorder(f"{method}-SNet", model, series, y, t, eval_every, snapshots)
    rec(-1, 0.0)
    trainer = SNetTrainer(model, t, y, inputs=u_samples, method=method, max_iters=iters, lr=1e-2, gamma=3.0,
                          n_x=10, n_t=10, lr_x=1e-3, perturbation=0.1, progress=True,
                          callbacks=[RecordIterations(rec, iters)])
    result = trainer.fit()
    return rec, result.history[-1]["time"] / len(result.history)


def train_bkpr(name: str, method: str, adjoint: bool, y: torch.Tensor, t: torch.Tensor, series: Any, iters: int,
               eval_every: int, snapshots: tuple[int, ...], hidden: int) -> tuple[Recorder, float]:
    from tqdm.auto import tqdm

    torch.manual_seed(0)
    model = VehicleSurrogate(hidden)
    rec = Recorder(name, model, series, y, t, eval_every, snapshots)
    rec(-1, 0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opts = {"step_size": float(t[1] - t[0])} if method == "euler" else {}
    elapsed = 0.0
    for it in tqdm(range(iters), desc=name, unit="it"):
        tic = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        try:
            loss = (rollout_with_input(model, series, y[:, 0], t, method, adjoint, **opts) - y).pow(2).mean()
        except (RuntimeError, ValueError) as exc:       # a diverging model can exhaust the step budget
            print(f"{name}: stopped at iteration {it}: {exc}")
            break
        if not torch.isfinite(loss):
            print(f"{name}: non-finite loss at iteration {it}")
            break
        loss.backward()
        opt.step()
        elapsed += time.perf_counter() - tic
        rec(it, elapsed, last=it == iters - 1)
    n_done = max(1, rec.history[-1]["iteration"])
    return rec, elapsed / n_done


def plot(runs: dict[str, Recorder], t: torch.Tensor, y: torch.Tensor, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, rec in runs.items():
        its = [h["iteration"] for h in rec.history]
        losses = [h["loss"] for h in rec.history]
        axes[0].plot(its, losses, marker=".", label=name)
        axes[1].plot([h["time"] for h in rec.history], losses, marker=".", label=name)
    axes[0].set_xlabel("iteration")
    axes[1].set_xlabel("optimisation time [s]")
    for ax in axes:
        ax.set_ylabel("training loss (rollout MSE)")
        ax.set_yscale("log")
        ax.legend()
    fig.suptitle("Vehicle, high-data regime: training loss")
    fig.tight_layout()
    paths.append(save_figure(fig, out / "snet_loss.png"))
    plt.close(fig)
    shown = [n for n in ("delta-SNet", "BKPR-dopri5") if n in runs and runs[n].shots]
    if shown:
        fig, axes = plt.subplots(len(shown), 3, figsize=(12, 3.6 * len(shown)), squeeze=False)
        for r, name in enumerate(shown):
            keys = sorted(runs[name].shots)
            picks = sorted({keys[0], keys[len(keys) // 2], keys[-1]})
            for ax in axes[r, len(picks):]:
                ax.set_visible(False)
            for c, k in enumerate(picks):
                ax, pred = axes[r, c], runs[name].shots[k]
                for b in range(3):
                    ax.plot(y[b, :, 0], y[b, :, 1], "r-", lw=1.5, label="true" if b == 0 else None)
                    ax.plot(pred[b, :, 0], pred[b, :, 1], "k--", lw=1, label="surrogate" if b == 0 else None)
                ax.set_title(f"{name}, iteration {k}")
                ax.set_xlabel("x [m]")
                ax.set_ylabel("y [m]")
                ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(save_figure(fig, out / "snet_trajectories.png"))
        plt.close(fig)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 5 min on one core)")
    parser.add_argument("--out", type=Path, default=Path("out/bench_snet"), help="folder for figures and JSON")
    parser.add_argument("--hidden", type=int, default=32, help="hidden width of the surrogate's networks")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])       # warm-up: the first Adam imports torch._dynamo
    iters = ({"delta-SNet": 500, "alpha-SNet": 30, "BKPR-Euler": 60, "BKPR-dopri5": 30} if args.quick else
             {"delta-SNet": 1000, "alpha-SNet": 200, "BKPR-Euler": 1200, "BKPR-dopri5": 1140, "ADJ-dopri5": 300})
    eval_every = {"delta-SNet": 25, "alpha-SNet": 5, "BKPR-Euler": 10, "BKPR-dopri5": 5, "ADJ-dopri5": 20}
    if not args.quick:
        eval_every = {k: 2 * v for k, v in eval_every.items()}
    snapshots = (5, 20, 100, 300)

    system = systems.get("vehicle")
    t = torch.linspace(0.0, 10.0, 100, dtype=torch.float64)
    y, series = simulate_with_inputs(system, 100, t, 0, rtol=1e-10, atol=1e-12)
    t_test = torch.linspace(0.0, 100.0, 1000, dtype=torch.float64)
    y_test, series_test = simulate_with_inputs(system, 10, t_test, 1, rtol=1e-9, atol=1e-11)
    u_samples = series(t.expand(100, -1))

    runs: dict[str, Recorder] = {}
    per_iter: dict[str, float] = {}
    for name, n in iters.items():
        if name.endswith("SNet"):
            rec, dt = train_snet(name.split("-")[0], y, t, u_samples, series, n, eval_every[name], snapshots,
                                 args.hidden)
        else:
            method = "euler" if name.endswith("Euler") else "dopri5"
            rec, dt = train_bkpr(name, method, name.startswith("ADJ"), y, t, series, n, eval_every[name],
                                 snapshots, args.hidden)
        runs[name], per_iter[name] = rec, dt

    target = max(runs["delta-SNet"].best(), runs["BKPR-dopri5"].best())
    results = {}
    print(f"\ntarget training loss (rollout MSE) = {target:.4g}")
    print(f"{'method':<12} {'ms/iter':>9} {'iters':>6} {'final loss':>11} {'best loss':>10} {'t->target [s]':>13} "
          f"{'test MSE':>10} | paper: {'ms/iter':>8} {'iters':>6} {'loss':>6} {'test MSE':>8}")
    for name, rec in runs.items():
        mse = rollout_mse(rec.model, series_test, y_test, t_test)
        final = rec.history[-1]["loss"] if rec.history else math.inf
        results[name] = {"ms_per_iter": 1e3 * per_iter[name], "iterations": rec.history[-1]["iteration"]
                         if rec.history else 0, "final_loss": final, "best_loss": rec.best(),
                         "time_to_target": rec.time_to(target), "test_mse": mse, "history": rec.history}
        pp = PAPER[name]
        print(f"{name:<12} {1e3 * per_iter[name]:9.2f} {results[name]['iterations']:6d} {final:11.4g} "
              f"{rec.best():10.4g} {rec.time_to(target):13.4g} {mse:10.4g} | {pp[0]:15.1f} {pp[1]:6d} "
              f"{pp[2]:6.3f} {pp[3]:8.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "bench_snet.json") as tmp:
        tmp.write_text(json.dumps({"target": target, "results": results, "quick": args.quick}, indent=1))
    for path in plot(runs, t, y, args.out):
        print(f"figure: {path}")
    per_iter_ratio = per_iter["BKPR-dopri5"] / per_iter["delta-SNet"]
    ratio = runs["BKPR-dopri5"].time_to(target) / runs["delta-SNet"].time_to(target)
    print(f"time per iteration: BKPR-dopri5 / delta-SNet = {per_iter_ratio:.1f}x (paper: 185 / 8.3 = 22x)")
    print(f"snet_time_to_loss_vs_dopri5={ratio:.3g} snet_test_mse={results['delta-SNet']['test_mse']:.4g} "
          f"dopri5_test_mse={results['BKPR-dopri5']['test_mse']:.4g}")


if __name__ == "__main__":
    main()
