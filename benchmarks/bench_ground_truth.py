"""Ground-truth benchmark: batched torch solvers vs per-trajectory SciPy loops (issue 5, acceptance).

(a) Robertson, 1000 perturbed initial conditions (``Robertson().initial_conditions(1000, seed)``), 50
    log-spaced outputs on [1e-5, 1e5], rtol 1e-6 / atol 1e-10: batched ``Rodas5P`` (``pysciml.solve``)
    vs a loop of SciPy ``LSODA`` and a loop of SciPy ``Radau`` (analytic Jacobians), all in this process.
    Accuracy: max relative error ``|y - y_ref| / (|y_ref| + atol)`` over outputs and components against
    a tight SciPy Radau reference (rtol 1e-12) on a subset of the initial conditions. A floor is printed too: the
    bare batched Rodas5P step (stepper only) times the number of batched iterations, i.e. the cost of this design
    before any engine bookkeeping.
(b) KS ETDRK4 vs SciPy Radau at matched error (``benchmarks/_ks_bench.py``) and (c) batched expmv vs a SciPy
    ``expm_multiply`` loop (``benchmarks/_expmv_bench.py``).

``--quick`` (< 5 min): the SciPy loops run on ``--scipy-subset`` (default 100) of the 1000 initial
conditions and their cost is scaled per trajectory to 1000 (stated in the output); the reference uses
``--ref-subset`` (default 10) trajectories. Without ``--quick`` everything runs on all trajectories.
The last line is ``speedup_vs_lsoda=<x> speedup_vs_radau=<y> speedup_ks=<z> speedup_expmv=<w>``; the
numbers are also written to ``<out>/ground_truth.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import pysciml
from pysciml.io import atomic_path
from pysciml.systems.robertson import Robertson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _expmv_bench import bench_expmv  # noqa: E402
from _ks_bench import bench_ks  # noqa: E402

RTOL, ATOL = 1e-6, 1e-10


def _max_rel_err(y: np.ndarray, ref: np.ndarray, atol: float = ATOL) -> float:
    """``max |y - ref| / (|ref| + atol)`` over all entries (NaN counts as infinite error)."""
    err = np.abs(y - ref) / (np.abs(ref) + atol)
    return float(np.max(np.where(np.isfinite(err), err, np.inf)))


def _stepper_floor_seconds(system: Robertson, y0: np.ndarray, steps: int, repeats: int = 30) -> float:
    """``steps`` times the median cost of one bare batched Rodas5P step (the stepper alone: Jacobian, LU, 8 stages)
    on all of ``y0`` — what the batched solve costs before any engine bookkeeping (step control, outputs)."""
    from pysciml.backends.rosenbrock_methods import rosenbrock_field
    from pysciml.integrators.registry import make_stepper

    stepper = make_stepper("rodas5p")
    y = torch.as_tensor(y0, dtype=torch.float64)
    field = rosenbrock_field(system, y)  # the same field as the timed batched solve
    t = torch.zeros(y.shape[0], dtype=torch.float64)
    dt = torch.full_like(t, 1e-3)
    times = []
    with torch.no_grad():
        f0 = field(t, y)
        for _ in range(repeats + 1):
            start = time.perf_counter()
            stepper.step(field, t, y, dt, f0)
            times.append(time.perf_counter() - start)
    return float(np.median(times[1:])) * steps


def bench_robertson(quick: bool, n: int, seed: int, scipy_subset: int, ref_subset: int) -> dict[str, Any]:
    """Part (a): batched Rodas5P vs SciPy LSODA / Radau loops on Robertson; returns timings and errors."""
    system = Robertson()
    y0 = system.initial_conditions(n, seed=seed)
    t_eval = np.concatenate([[0.0], np.geomspace(1e-5, 1e5, 50)])
    n_scipy = min(scipy_subset, n) if quick else n
    n_ref = min(ref_subset, n) if quick else n
    rng = np.random.default_rng(seed + 1)
    sub_scipy = np.sort(rng.choice(n, n_scipy, replace=False))
    sub_ref = sub_scipy[:n_ref] if n_ref <= n_scipy else np.sort(rng.choice(n, n_ref, replace=False))

    print(f"(a) Robertson: {n} initial conditions, 50 log-spaced outputs on [1e-5, 1e5], rtol={RTOL:g}, "
          f"atol={ATOL:g}; torch threads={torch.get_num_threads()}", flush=True)
    # warm-up (imports, coefficient caches), then the timed batched solve
    pysciml.solve(system, y0[:4], t_eval, method="Rodas5P", rtol=RTOL, atol=ATOL, backend="python")
    start = time.perf_counter()
    rodas = pysciml.solve(system, y0, t_eval, method="Rodas5P", rtol=RTOL, atol=ATOL, backend="python")
    t_rodas = time.perf_counter() - start
    print(f"    Rodas5P batched  : {t_rodas:8.3f} s for {n} trajectories; {rodas.summary()}", flush=True)

    results: dict[str, Any] = {"n": n, "rodas5p_s": t_rodas, "rodas5p_all_success": rodas.all_success,
                               "rodas5p_mean_steps": float(np.mean(rodas.steps))}
    per_traj: dict[str, float] = {}
    scipy_sols = {}
    for method in ("LSODA", "Radau"):
        start = time.perf_counter()
        sol = pysciml.solve(system, y0[sub_scipy], t_eval, method=method, rtol=RTOL, atol=ATOL,
                            progress=not quick)
        elapsed = time.perf_counter() - start
        per_traj[method] = elapsed / n_scipy
        scipy_sols[method] = sol
        print(f"    SciPy {method:<6} loop: {elapsed:8.3f} s for {n_scipy} trajectories "
              f"({per_traj[method] * 1e3:.2f} ms each; all success: {sol.all_success})", flush=True)
        results[f"{method.lower()}_s_per_traj"] = per_traj[method]

    start = time.perf_counter()
    ref = pysciml.solve(system, y0[sub_ref], t_eval, method="Radau", rtol=1e-12,
                        atol=np.array([1e-20, 1e-24, 1e-20]), max_steps=1_000_000)
    print(f"    reference (Radau rtol 1e-12) on {n_ref} trajectories: {time.perf_counter() - start:.1f} s",
          flush=True)
    pos = {idx: k for k, idx in enumerate(sub_scipy)}
    errs = {"Rodas5P": _max_rel_err(rodas.y[sub_ref, 1:], ref.y[:, 1:])}
    for method, sol in scipy_sols.items():
        rows = [pos[i] for i in sub_ref if i in pos]
        errs[method] = _max_rel_err(sol.y[rows, 1:], ref.y[: len(rows), 1:])
    mass = np.max(np.abs(system.invariants(rodas.y)["mass"] - system.invariants(y0)["mass"][:, None]))
    results.update({f"{k.lower()}_max_rel_err": v for k, v in errs.items()})
    results["rodas5p_mass_drift"] = float(mass)

    scale = f" (SciPy cost per trajectory x {n}, measured on {n_scipy})" if n_scipy < n else ""
    results["speedup_vs_lsoda"] = per_traj["LSODA"] * n / t_rodas
    results["speedup_vs_radau"] = per_traj["Radau"] * n / t_rodas
    print(f"    max rel err vs reference ({n_ref} traj): Rodas5P {errs['Rodas5P']:.2e}, "
          f"LSODA {errs['LSODA']:.2e}, Radau {errs['Radau']:.2e}; Rodas5P mass drift {mass:.1e}")
    print(f"    speedup vs LSODA {results['speedup_vs_lsoda']:.1f}x, "
          f"vs Radau {results['speedup_vs_radau']:.1f}x{scale}", flush=True)
    iterations = int(np.max(rodas.njev))  # attempted steps of the slowest trajectory = batched engine iterations
    floor = _stepper_floor_seconds(system, y0, iterations)
    results["rodas5p_stepper_floor_s"] = floor
    print(f"    floor: {iterations} bare batched Rodas5P steps (stepper only, no step control or outputs) take "
          f"{floor:.3f} s, which caps this design at {per_traj['Radau'] * n / floor:.0f}x vs Radau", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SciPy loops and reference on subsets (< 5 min)")
    parser.add_argument("--n", type=int, default=1000, help="number of Robertson initial conditions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scipy-subset", type=int, default=100, help="--quick: trajectories for SciPy loops")
    parser.add_argument("--ref-subset", type=int, default=10, help="--quick: trajectories for the reference")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: small per-op work; extra threads only add contention)")
    parser.add_argument("--skip-others", action="store_true", help="run part (a) only")
    parser.add_argument("--out", default="out/bench", help="output folder for ground_truth.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    results = bench_robertson(args.quick, args.n, args.seed, args.scipy_subset, args.ref_subset)
    speedup_ks = speedup_expmv = None
    if not args.skip_others:
        print("(b) Kuramoto-Sivashinsky ETDRK4 vs SciPy Radau", flush=True)
        results["ks"] = bench_ks(args.quick)
        speedup_ks = results["ks"]["speedup"]
        print("(c) batched expmv vs SciPy expm_multiply loop", flush=True)
        results["expmv"] = bench_expmv(args.quick)
        speedup_expmv = results["expmv"]["speedup"]
    results.update({"speedup_ks": speedup_ks, "speedup_expmv": speedup_expmv, "quick": args.quick})

    with atomic_path(Path(args.out) / "ground_truth.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))

    def fmt(x: float | None) -> str:
        return "skipped" if x is None else f"{x:.1f}"

    print(f"speedup_vs_lsoda={fmt(results['speedup_vs_lsoda'])} "
          f"speedup_vs_radau={fmt(results['speedup_vs_radau'])} "
          f"speedup_ks={fmt(speedup_ks)} speedup_expmv={fmt(speedup_expmv)}")


if __name__ == "__main__":
    main()
