"""Benchmark part (b): Kuramoto–Sivashinsky, batched spectral ETDRK4 vs a loop of SciPy Radau at matched error.

KS ``lpsda`` preset (L = 64, 256 points, seed 001 / LPSDA). Initial states on the attractor: random-sine fields
integrated for 60 time units (ETDRK4, dt = 0.01; only a burn-in). Outputs every 0.2 on [0, 10]. SciPy Radau
(python backend: analytic dense Jacobian) runs trajectory by trajectory at ``rtol`` (1e-4 and 1e-6,
``atol = rtol/100``); a tight Radau run (rtol 1e-11) on the same trajectories is the reference. ETDRK4 uses the
largest step 0.2/k (k = 1, 2, 3, …: whole steps per output interval) whose error on those
trajectories is no larger than Radau's, and then
integrates the whole ensemble at once. Radau's cost is measured on a subset and scaled per trajectory (stated
in the output). Errors: ``max |y - y_ref| / max |y_ref|``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import pysciml


def _rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(y - ref).max() / np.abs(ref).max())


def bench_ks(quick: bool, n: int = 256, horizon: float = 10.0, seed: int = 0) -> dict[str, Any]:
    """Time both solvers at matched error; returns ``{"speedup": <at rtol 1e-6>, "levels": [...]}``."""
    system = pysciml.systems.get("kuramoto_sivashinsky", preset="lpsda")
    burn = pysciml.solve(system, system.initial_conditions(n, seed=seed), [0.0, 60.0], method="ETDRK4", dt=0.01)
    y0 = burn.y[:, -1]
    t = np.linspace(0.0, horizon, int(round(horizon / 0.2)) + 1)
    n_sub = 8 if quick else 32
    sub = slice(0, n_sub)
    ref = pysciml.solve(system, y0[sub], t, method="Radau", rtol=1e-11, atol=1e-13)
    print(f"    KS lpsda (256 points), {n} trajectories on the attractor, t in [0, {horizon:g}], outputs every 0.2; "
          f"errors and Radau cost on {n_sub} trajectories")
    pysciml.solve(system, y0[:2], t, method="ETDRK4", dt=0.1)  # warm-up
    levels = []
    for rtol in (1e-4, 1e-6):
        start = time.perf_counter()
        radau = pysciml.solve(system, y0[sub], t, method="Radau", rtol=rtol, atol=rtol / 100)
        radau_per = (time.perf_counter() - start) / n_sub
        radau_err = _rel_err(radau.y, ref.y)
        steps, etd_err = 1, np.inf  # dt = 0.2 / steps: whole steps per output interval
        while steps < 2000:
            dt = 0.2 / steps
            trial = pysciml.solve(system, y0[sub], t, method="ETDRK4", dt=dt)
            etd_err = _rel_err(trial.y, ref.y) if trial.all_success else np.inf
            if etd_err <= radau_err:
                break
            steps += 1
        start = time.perf_counter()
        full = pysciml.solve(system, y0, t, method="ETDRK4", dt=dt)
        etd_s = time.perf_counter() - start
        speedup = radau_per * n / etd_s
        print(f"    Radau rtol {rtol:g}: {radau_per * 1e3:.0f} ms per trajectory, error {radau_err:.2e} | ETDRK4 "
              f"dt={dt:g}: {etd_s:.2f} s for {n} ({etd_s / n * 1e3:.1f} ms each), error {etd_err:.2e}, all "
              f"success {full.all_success} | speedup {speedup:.0f}x (Radau per-trajectory cost x {n})", flush=True)
        levels.append({"radau_rtol": rtol, "radau_s_per_traj": radau_per, "radau_rel_err": radau_err,
                       "etd_dt": dt, "etd_s": etd_s, "etd_rel_err": etd_err, "speedup": speedup})
    return {"speedup": levels[-1]["speedup"], "levels": levels, "n": n}
