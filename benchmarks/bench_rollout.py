"""Benchmark: long-rollout evaluation, pysciml.evaluation.evaluate_rollout vs torchdiffeq rk4 on a fixed grid.

Setting of Janvier, Salomon, Meunier (arXiv:2602.04608, App. B): 100 two-body test trajectories, 10,000 RK4 steps
of dt = 0.01, model an MLP 4 → 200 → 200 → 4 with ReLU (three linear layers), float64, one torch thread.
Ground truth: the true field integrated by pysciml's RK4 (generated once, before any measurement).

* ours: ``evaluate_rollout(model, data, chunk_size=1000)`` — chunked ``odeint(method="rk4")`` under no_grad,
  computing R_e(t), L_traj, divergence times and both invariants' conservation errors as it goes (the rollout
  states themselves are not kept);
* ours without the evaluation layer: one ``pysciml.odeint(method="rk4")`` call over the whole horizon under
  no_grad (all states kept), then R_e(t) — separates the engine's cost from the chunked evaluation's;
* peer: ``torchdiffeq.odeint(model, y0, t, method="rk4", options={"step_size": dt})`` under no_grad (all states
  kept), then R_e(t) from them. torchdiffeq's "rk4" is the 3/8-rule variant: also 4 field evaluations per step.

Each (candidate, horizon) runs once in a fresh subprocess; memory is the growth of the peak resident set
(``resource.getrusage``) during the rollout, over the process after loading the data, building the model and
one 10-step warm-up; ``tracemalloc`` gives the Python/numpy allocations' peak. Horizons 1,000 and 10,000 steps
show that our memory does not grow with the horizon beyond the [n, T] error curves it keeps (R_e and one per
invariant, 8 bytes per trajectory and step each).
Times are wall-clock and CPU time of the process (``time.process_time``; on a machine whose cores are shared, the
CPU time is what one idle core would take). The last line is ``rollout_seconds=<s> peak_mb=<m>`` (ours, 10,000
steps, wall time).

Usage: ``python benchmarks/bench_rollout.py [--quick]`` (``--quick``: 2,000 steps instead of 10,000).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

N_TRAJ, DT, WIDTH, SEED = 100, 0.01, 200, 0


def _model() -> torch.nn.Module:
    torch.manual_seed(SEED)
    net = torch.nn.Sequential(torch.nn.Linear(4, WIDTH), torch.nn.ReLU(), torch.nn.Linear(WIDTH, WIDTH),
                              torch.nn.ReLU(), torch.nn.Linear(WIDTH, 4)).double()
    with torch.no_grad():  # a small field, so that the untrained model's rollouts stay finite
        net[-1].weight.mul_(0.01)
    return net


class Field(torch.nn.Module):
    """``f(t, y) = MLP(y)``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _model()

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


def _truth(n_steps: int, path: Path) -> None:
    from pysciml import systems
    from pysciml.evaluation import rollout

    tb = systems.get("two_body")
    y0 = torch.as_tensor(tb.initial_conditions(N_TRAJ, seed=SEED))
    t = torch.arange(n_steps + 1, dtype=torch.float64) * DT
    ys = rollout(tb.rhs_torch, y0, t, method="rk4", step_size=DT, chunk_size=1000, progress=True)
    np.savez(path, t=t.numpy(), y=ys.numpy())


def _ours(field: torch.nn.Module, t: np.ndarray, y: np.ndarray) -> float:
    from pysciml.evaluation import evaluate_rollout

    ev = evaluate_rollout(field, (t, y), system="two_body", chunk_size=1000)
    return float(np.mean(ev.final_error[np.isfinite(ev.final_error)]))


def _odeint(field: torch.nn.Module, t: np.ndarray, y: np.ndarray) -> float:
    from pysciml import odeint
    from pysciml.evaluation import relative_error

    with torch.no_grad():
        ys = odeint(field, torch.as_tensor(y[:, 0]), torch.as_tensor(t), method="rk4", step_size=DT,
                    max_steps=2 * len(t)).ys
    rel = relative_error(ys.numpy(), y)
    return float(np.mean(rel[:, -1][np.isfinite(rel[:, -1])]))


def _peer(field: torch.nn.Module, t: np.ndarray, y: np.ndarray) -> float:
    import torchdiffeq

    from pysciml.evaluation import relative_error

    with torch.no_grad():
        ys = torchdiffeq.odeint(field, torch.as_tensor(y[:, 0]), torch.as_tensor(t), method="rk4",
                                options={"step_size": DT})
    rel = relative_error(ys.transpose(0, 1).numpy(), y)
    return float(np.mean(rel[:, -1][np.isfinite(rel[:, -1])]))


def _child(candidate: str, n_steps: int, data: str) -> None:
    torch.set_num_threads(1)
    with np.load(data) as z:
        t, y = z["t"][:n_steps + 1].copy(), z["y"][:, :n_steps + 1].copy()
    field = Field()
    run = {"ours": _ours, "odeint": _odeint, "torchdiffeq": _peer}[candidate]
    run(field, t[:11], y[:, :11])  # warm-up (imports, allocator)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    final = run(field, t, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rss_growth_mb": (peak - base) / 1024,
                      "traced_peak_mb": traced / 2**20, "mean_final_re": final}))


def _measure(candidate: str, n_steps: int, data: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", candidate, str(n_steps), str(data)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 steps instead of 10,000")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2])
        return
    torch.set_num_threads(1)
    horizon = 2_000 if args.quick else 10_000
    short = horizon // 10
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "truth.npz"
        print(f"generating ground truth: {N_TRAJ} two-body trajectories, {horizon} RK4 steps of {DT}")
        _truth(horizon, data)
        results = {(c, n): _measure(c, n, data) for n in (short, horizon) for c in ("ours", "odeint", "torchdiffeq")}
    print(f"{'candidate':<12} {'steps':>6} {'seconds':>8} {'CPU s':>7} {'RSS growth MB':>14} {'traced peak MB':>15} "
          f"{'mean final R_e':>15}")
    for (c, n), r in results.items():
        print(f"{c:<12} {n:>6} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} {r['rss_growth_mb']:>14.1f} "
              f"{r['traced_peak_mb']:>15.1f} "
              f"{r['mean_final_re']:>15.6g}")
    ours, peer = results[("ours", horizon)], results[("torchdiffeq", horizon)]
    kept_mb = 3 * N_TRAJ * (horizon - short) * 8 / 2**20  # R_e and the two invariants' error curves
    growth = ours["rss_growth_mb"] - results[("ours", short)]["rss_growth_mb"]
    print(f"ours: peak RSS growth from {short} to {horizon} steps {growth:.1f} MB (the extra [n, T] curves it keeps, "
          f"R_e and two conservation errors: {kept_mb:.1f} MB)")
    print(f"ratio_vs_torchdiffeq_rk4={ours['seconds'] / peer['seconds']:.3f} (wall time, ours / theirs, {horizon} "
          f"steps; CPU time {ours['cpu_seconds'] / peer['cpu_seconds']:.3f})")
    print(f"rollout_cpu_seconds={ours['cpu_seconds']:.2f} (CPU time of the process: the wall time on an idle core)")
    print(f"rollout_seconds={ours['seconds']:.2f} peak_mb={ours['rss_growth_mb']:.1f}")


if __name__ == "__main__":
    main()
