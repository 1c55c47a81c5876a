"""Per-step training time with Jacobian regularisers relative to unregularised training (seed 001 setting).

Kuramoto–Sivashinsky, preset ``lpsda`` (d = 256, dt = 0.2), windows of N = 2 samples, MLP vector field
(hidden 200), RK4 with the data step, batch 128 (methods.md §9.1). One training step = rollout loss
(+ regulariser) forward, backward and an Adam step, through :meth:`RolloutTrainer.batch_loss`. Reports the
median over interleaved repeats (the candidates alternate within every repeat) for: no regulariser, Hutchinson
``L_AD`` (``JacobianAD``, V = 10 JVPs as in the paper's code, and V = 1) and Hutchinson Frobenius
(``JacobianFrobenius``, V = 1). The regularisers are evaluated on
all B·N window points. Last line: ``overhead_hutchinson=<t_AD(V=1) / t_none>`` (one Hutchinson probe per point,
the estimator of RNODE/FFJORD); the line before it gives the paper's V = 10, whose cost is dominated by the
10 JVPs per point (compute-bound, about V times the regulariser's cost at V = 1). A floor is printed too: one
JVP of the model and its backward at the same points, alone; no one-probe Jacobian regulariser costs less.

Usage: ``python benchmarks/bench_regularizers.py [--quick]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from _timing import time_interleaved  # benchmarks/ is on sys.path when a script here runs

import pysciml
from pysciml import systems
from pysciml.data import TrajectoryData
from pysciml.regularizers import JacobianAD, JacobianFrobenius, jvp
from pysciml.training import RolloutTrainer


def make_data(n: int, dt: float) -> tuple[TrajectoryData, object]:
    """``n`` KS trajectories of 3 samples (two windows of N = 2), ground truth by BDF."""
    system = systems.get("kuramoto_sivashinsky", preset="lpsda")
    y0 = system.initial_conditions(n, seed=0)
    sol = pysciml.solve(system, y0, np.array([0.0, dt, 2 * dt]), method="BDF", rtol=1e-6, atol=1e-8,
                        progress=False)
    return TrajectoryData.from_solution(sol), system


def training_step(trainer: RolloutTrainer, batch: tuple[torch.Tensor, torch.Tensor]) -> Callable[[], None]:
    """One optimisation step (forward, backward, Adam) of ``trainer`` on ``batch``, as a callable."""
    opt = torch.optim.Adam(trainer.model.parameters(), lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss, _ = trainer.batch_loss(batch)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about a minute on 2 cores)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--n-samples", type=int, default=10, help="Hutchinson directions V for L_AD")
    args = parser.parse_args()
    repeats = 5 if args.quick else 20
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    dt = 0.2
    data, system = make_data(8, dt)
    from pysciml.models import MLPVectorField

    model = MLPVectorField(system.dim, hidden=args.hidden).to(torch.float64)
    setups = {
        "none": [],
        "hutchinson_AD": [JacobianAD(system.rhs_torch, weight=1e-3, n_samples=args.n_samples,
                                     known_jvp=system.jvp_torch)],
        "hutchinson_AD_V1": [JacobianAD(system.rhs_torch, weight=1e-3, n_samples=1, known_jvp=system.jvp_torch)],
        "hutchinson_frobenius": [JacobianFrobenius(weight=1e-3, estimator="hutchinson", n_samples=1)],
    }
    steps = {}
    for name, regs in setups.items():
        trainer = RolloutTrainer(model, data, window=2, method="rk4", step_size=dt, regularizers=regs,
                                 kind="field", progress=False)
        idx = torch.arange(args.batch) % trainer.train_ts.shape[0]
        batch = (trainer.train_ts[idx], trainer.train_ys[idx])
        steps[name] = training_step(trainer, batch)
    # floor: one JVP of the model (torch.func forward mode) and its backward at the same B·N points, alone
    points = batch[1].reshape(-1, system.dim)
    probe = torch.randn_like(points)
    steps["floor"] = lambda: jvp(model, points, probe, 0.0).pow(2).sum().backward()
    results = time_interleaved(steps, repeats)
    for name in setups:
        print(f"{name:>22s}: {1e3 * results[name]:8.2f} ms/step  (x{results[name] / results['none']:.2f})")
    floor = results["floor"]
    print(f"floor: one model JVP + its backward at the {points.shape[0]} points takes {1e3 * floor:.2f} ms, so a "
          f"one-probe Jacobian regulariser costs at least x{(results['none'] + floor) / results['none']:.2f}")
    print(f"overhead_hutchinson_V{args.n_samples}={results['hutchinson_AD'] / results['none']:.3f}")
    print(f"overhead_frobenius={results['hutchinson_frobenius'] / results['none']:.3f}")
    print(f"overhead_hutchinson={results['hutchinson_AD_V1'] / results['none']:.3f}")


if __name__ == "__main__":
    main()
