"""Ground-truth benchmark: batched torch solvers vs per-trajectory SciPy loops (issue 5, acceptance).

(a) Robertson, 1000 perturbed initial conditions (``Robertson().initial_conditions(1000, seed)``), 50
    log-spaced outputs on [1e-5, 1e5], rtol 1e-6 / atol 1e-10: batched ``Rodas5P`` (``pysciml.solve``)
    vs plain ``scipy.integrate.solve_ivp`` loops (``LSODA`` and ``Radau``, hand-written numpy field and analytic
    Jacobian, ``benchmarks/_scipy_baseline.py``), all in this process.
    Accuracy: max relative error ``|y - y_ref| / (|y_ref| + atol)`` over outputs and components against
    a tight SciPy Radau reference (rtol 1e-12) on a subset of the initial conditions. A floor is printed too: the
    bare batched Rodas5P step (stepper only) times the number of batched iterations, i.e. the cost of this design
    before any engine bookkeeping.
(b) KS ETDRK4 vs a plain solve_ivp Radau loop at matched error (``benchmarks/_ks_bench.py``) and (c) batched
    expmv vs a SciPy ``expm_multiply`` loop (``benchmarks/_expmv_bench.py``).
(d) ``n_jobs`` scaling: 64 Robertson trajectories with SciPy Radau through ``pysciml.solve`` with ``n_jobs=1``
    and ``n_jobs=2`` (wall time, worker start-up included, median of interleaved repeats), plus the CPU seconds of
    all processes. The wall-time speedup needs two free cores: where the kernel shares CPU per session
    (``sched_autogroup``) and other sessions load the machine, extra processes get no extra CPU and only the CPU
    ratio (parallel overhead) is meaningful.
(e) SciPy driver overhead: CPU time per trajectory of ``pysciml.solve(method="Radau")`` over a plain
    ``solve_ivp`` Radau loop with a hand-written field at the same settings (same outputs, tolerances, analytic
    Jacobian), median of interleaved repeats; the loop over the system's own batched callables is printed too.

``--quick`` (< 5 min): the SciPy loops run on ``--scipy-subset`` (default 100) of the 1000 initial
conditions and their cost is scaled per trajectory to 1000 (stated in the output); the reference uses
``--ref-subset`` (default 10) trajectories. Without ``--quick`` everything runs on all trajectories.
The last line is ``speedup_vs_lsoda=<x> speedup_vs_radau=<y> speedup_ks=<z> speedup_expmv=<w>
njobs2_speedup=<u> scipy_driver_overhead=<v>`` (targets for the last two: >= 1.5 and <= 1.2); the numbers are
also written to ``<out>/ground_truth.json``.
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
from _scipy_baseline import robertson_jac, robertson_rhs, solve_ivp_loop  # noqa: E402

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
        y_scipy = solve_ivp_loop(robertson_rhs, robertson_jac, y0[sub_scipy], t_eval, method, RTOL, ATOL)
        elapsed = time.perf_counter() - start
        per_traj[method] = elapsed / n_scipy
        scipy_sols[method] = y_scipy
        print(f"    solve_ivp {method:<6} loop: {elapsed:8.3f} s for {n_scipy} trajectories "
              f"({per_traj[method] * 1e3:.2f} ms each; all success: {bool(np.all(np.isfinite(y_scipy)))})",
              flush=True)
        results[f"{method.lower()}_s_per_traj"] = per_traj[method]

    start = time.perf_counter()
    ref = pysciml.solve(system, y0[sub_ref], t_eval, method="Radau", rtol=1e-12,
                        atol=np.array([1e-20, 1e-24, 1e-20]), max_steps=1_000_000)
    print(f"    reference (Radau rtol 1e-12) on {n_ref} trajectories: {time.perf_counter() - start:.1f} s",
          flush=True)
    pos = {idx: k for k, idx in enumerate(sub_scipy)}
    errs = {"Rodas5P": _max_rel_err(rodas.y[sub_ref, 1:], ref.y[:, 1:])}
    for method, y_scipy in scipy_sols.items():
        rows = [pos[i] for i in sub_ref if i in pos]
        errs[method] = _max_rel_err(y_scipy[rows, 1:], ref.y[: len(rows), 1:])
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


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the n_jobs workers)."""
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def bench_njobs(n: int = 64, seed: int = 0, repeats: int = 3) -> dict[str, float]:
    """Part (d): wall time of ``pysciml.solve`` (SciPy Radau, Robertson) with ``n_jobs`` 1 and 2, and the CPU seconds
    of all processes (parallel overhead: start-up, pickling, oversubscription would show up as extra CPU)."""
    system = Robertson()
    y0 = system.initial_conditions(n, seed=seed)
    t_eval = np.concatenate([[0.0], np.geomspace(1e-5, 1e5, 50)])
    times: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    outputs = {}
    for _ in range(repeats):
        for jobs in (1, 2):
            start, cpu0 = time.perf_counter(), _cpu_seconds()
            outputs[jobs] = pysciml.solve(system, y0, t_eval, method="Radau", rtol=RTOL, atol=ATOL, n_jobs=jobs)
            times[jobs].append(time.perf_counter() - start)
            cpu[jobs].append(_cpu_seconds() - cpu0)
    same = bool(np.array_equal(outputs[1].y, outputs[2].y))
    t1, t2 = float(np.median(times[1])), float(np.median(times[2]))
    c1, c2 = float(np.median(cpu[1])), float(np.median(cpu[2]))
    print(f"(d) n_jobs scaling, {n} Radau trajectories (Robertson, rtol={RTOL:g}): n_jobs=1 {t1:.3f} s, n_jobs=2 "
          f"{t2:.3f} s (median of {repeats}, worker start-up included) -> speedup {t1 / t2:.2f}x; CPU seconds of all "
          f"processes {c1:.2f} vs {c2:.2f} (ratio {c2 / c1:.2f}: the parallel overhead); identical results: {same}",
          flush=True)
    return {"njobs1_s": t1, "njobs2_s": t2, "njobs2_speedup": t1 / t2, "njobs1_cpu_s": c1, "njobs2_cpu_s": c2,
            "njobs2_cpu_ratio": c2 / c1, "njobs_identical": same}


def bench_driver_overhead(n: int = 32, seed: int = 0, repeats: int = 3) -> dict[str, float]:
    """Part (e): CPU time per trajectory of pysciml's SciPy Radau driver vs plain solve_ivp loops."""
    system = Robertson()
    y0 = system.initial_conditions(n, seed=seed)
    t_eval = np.concatenate([[0.0], np.geomspace(1e-5, 1e5, 50)])

    def system_rhs(t: float, y: np.ndarray) -> np.ndarray:
        return system.rhs(t, y[None, :])[0]

    def system_jac(t: float, y: np.ndarray) -> np.ndarray:
        return system.jacobian(t, y[None, :])[0]

    candidates = {
        "pysciml": lambda: pysciml.solve(system, y0, t_eval, method="Radau", rtol=RTOL, atol=ATOL).y,
        "plain": lambda: solve_ivp_loop(robertson_rhs, robertson_jac, y0, t_eval, "Radau", RTOL, ATOL),
        "plain_system_fn": lambda: solve_ivp_loop(system_rhs, system_jac, y0, t_eval, "Radau", RTOL, ATOL),
    }
    cpu: dict[str, list[float]] = {k: [] for k in candidates}
    outputs = {k: fn() for k, fn in candidates.items()}  # warm-up
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.process_time()
            fn()
            cpu[name].append(time.process_time() - start)
    per = {k: float(np.median(v)) / n for k, v in cpu.items()}
    diff = float(np.max(np.abs(outputs["pysciml"] - outputs["plain"]) / (np.abs(outputs["plain"]) + ATOL)))
    overhead = per["pysciml"] / per["plain"]
    print(f"(e) SciPy driver, Radau on {n} Robertson trajectories, CPU per trajectory: pysciml.solve "
          f"{per['pysciml'] * 1e3:.2f} ms, plain solve_ivp loop {per['plain'] * 1e3:.2f} ms (hand-written field), "
          f"{per['plain_system_fn'] * 1e3:.2f} ms (the system's batched callables on [1, 3]) -> overhead "
          f"{overhead:.2f}x; max relative difference of the outputs {diff:.1e}", flush=True)
    return {"driver_ms_per_traj": per["pysciml"] * 1e3, "plain_ms_per_traj": per["plain"] * 1e3,
            "plain_system_fn_ms_per_traj": per["plain_system_fn"] * 1e3, "scipy_driver_overhead": overhead,
            "driver_vs_plain_max_rel_diff": diff}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SciPy loops and reference on subsets (< 5 min)")
    parser.add_argument("--n", type=int, default=1000, help="number of Robertson initial conditions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scipy-subset", type=int, default=100, help="--quick: trajectories for SciPy loops")
    parser.add_argument("--ref-subset", type=int, default=10, help="--quick: trajectories for the reference")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: small per-op work; extra threads only add contention)")
    parser.add_argument("--skip-others", action="store_true", help="skip parts (b) and (c)")
    parser.add_argument("--only-new", action="store_true", help="run parts (d) and (e) only")
    parser.add_argument("--out", default="out/bench", help="output folder for ground_truth.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    results: dict[str, Any] = {"speedup_vs_lsoda": None, "speedup_vs_radau": None}
    if not args.only_new:
        results.update(bench_robertson(args.quick, args.n, args.seed, args.scipy_subset, args.ref_subset))
    speedup_ks = speedup_expmv = None
    if not (args.skip_others or args.only_new):
        print("(b) Kuramoto-Sivashinsky ETDRK4 vs SciPy Radau", flush=True)
        results["ks"] = bench_ks(args.quick)
        speedup_ks = results["ks"]["speedup"]
        print("(c) batched expmv vs SciPy expm_multiply loop", flush=True)
        results["expmv"] = bench_expmv(args.quick)
        speedup_expmv = results["expmv"]["speedup"]
    results.update(bench_njobs(seed=args.seed))
    results.update(bench_driver_overhead(seed=args.seed))
    results.update({"speedup_ks": speedup_ks, "speedup_expmv": speedup_expmv, "quick": args.quick})

    with atomic_path(Path(args.out) / "ground_truth.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))

    def fmt(x: float | None) -> str:
        return "skipped" if x is None else f"{x:.1f}"

    print(f"speedup_vs_lsoda={fmt(results['speedup_vs_lsoda'])} "
          f"speedup_vs_radau={fmt(results['speedup_vs_radau'])} "
          f"speedup_ks={fmt(speedup_ks)} speedup_expmv={fmt(speedup_expmv)} "
          f"njobs2_speedup={results['njobs2_speedup']:.2f} "
          f"scipy_driver_overhead={results['scipy_driver_overhead']:.2f}")


if __name__ == "__main__":
    main()
