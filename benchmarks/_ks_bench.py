"""Benchmark part (b): Kuramoto–Sivashinsky, batched spectral ETDRK4 vs a loop of SciPy Radau at matched error.

KS ``lpsda`` preset (L = 64, 256 points, seed 001 / LPSDA). Initial states on the attractor: the preset's
random-sine fields after its default burn-in (72 time units = LPSDA's 360 steps of 0.2, batched ETDRK4). Outputs
every 0.2 on [0, 10]. The peer is a plain ``scipy.integrate.solve_ivp`` Radau loop (the system's numpy field on one
state and its analytic dense Jacobian) at ``rtol`` (1e-4 and 1e-6, ``atol = rtol/100``); a tight Radau run
(rtol 1e-11) on the same trajectories is the reference. ETDRK4 uses the
largest step 0.2/k (k = 1, 2, 3, …: whole steps per output interval) whose error on those
trajectories is no larger than Radau's, and then
integrates the whole ensemble at once. Radau's cost is measured on a subset and scaled per trajectory (stated
in the output). Errors: ``max |y - y_ref| / max |y_ref|``. A floor is printed too: the time of the bare arithmetic
of the same number of ETDRK4 steps (FFTs and element-wise products with precomputed coefficients, no solver logic),
which bounds the speedup any torch ETDRK4 can reach on the machine with the same single thread as Radau.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from _scipy_baseline import solve_ivp_loop

import pysciml
from pysciml.integrators.phi import phi_functions


def _rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(y - ref).max() / np.abs(ref).max())


def _floor_step_seconds(system: Any, y0: np.ndarray, dt: float, repeats: int = 50) -> float:
    """Median time of the bare arithmetic of one ETDRK4 step (Kassam & Trefethen 2005, Fourier form) on ``y0``.

    Coefficients are precomputed and there is no bookkeeping at all (no step-size logic, outputs, statuses): this
    is a floor for any ETDRK4 implementation with torch on this machine, not a solver.
    """
    lam = torch.as_tensor(system.fourier_symbol(), dtype=torch.float64)
    g = torch.as_tensor(system._nl_symbol)
    n = system.dim
    half, full = phi_functions(0.5 * dt * lam, 1), phi_functions(dt * lam, 3)
    e2, q = half[:, 0], 0.5 * dt * half[:, 1]
    e, f1 = full[:, 0], dt * (full[:, 1] - 3 * full[:, 2] + 4 * full[:, 3])
    f2, f3 = dt * (2 * full[:, 2] - 4 * full[:, 3]), dt * (4 * full[:, 3] - full[:, 2])
    e2, q, e, f1, f2, f3 = (x.to(torch.complex128) for x in (e2, q, e, f1, f2, f3))

    def nonlinear(u: torch.Tensor) -> torch.Tensor:
        return g * torch.fft.rfft(u * u)

    def step(u: torch.Tensor) -> torch.Tensor:
        v, nv = torch.fft.rfft(u), nonlinear(u)
        a = e2 * v + q * nv
        na = nonlinear(torch.fft.irfft(a, n=n))
        b = e2 * v + q * na
        nb = nonlinear(torch.fft.irfft(b, n=n))
        c = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(torch.fft.irfft(c, n=n))
        return torch.fft.irfft(e * v + f1 * nv + f2 * (na + nb) + f3 * nc, n=n)

    u0 = torch.as_tensor(y0, dtype=torch.float64)
    step(u0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(u0)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_ks(quick: bool, n: int = 256, horizon: float = 10.0, seed: int = 0) -> dict[str, Any]:
    """Time both solvers at matched error; returns ``{"speedup": <at rtol 1e-6>, "levels": [...]}``."""
    system = pysciml.systems.get("kuramoto_sivashinsky", preset="lpsda")
    y0 = system.initial_conditions(n, seed=seed)  # burnt in for 72 time units (the preset's default)
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
        radau_y = solve_ivp_loop(system.rhs, system.jacobian, y0[sub], t, "Radau", rtol, rtol / 100)
        radau_per = (time.perf_counter() - start) / n_sub
        radau_err = _rel_err(radau_y, ref.y)
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
        n_steps = int(round(horizon / dt))
        floor_s = _floor_step_seconds(system, y0, dt) * n_steps
        print(f"    Radau rtol {rtol:g}: {radau_per * 1e3:.0f} ms per trajectory, error {radau_err:.2e} | ETDRK4 "
              f"dt={dt:g}: {etd_s:.2f} s for {n} ({etd_s / n * 1e3:.1f} ms each), error {etd_err:.2e}, all "
              f"success {full.all_success} | speedup {speedup:.0f}x (Radau per-trajectory cost x {n})", flush=True)
        print(f"      floor: {n_steps} bare ETDRK4 steps (arithmetic only, no solver) take {floor_s:.2f} s, so no "
              f"single-threaded torch ETDRK4 on this machine exceeds {radau_per * n / floor_s:.0f}x at this error",
              flush=True)
        levels.append({"radau_rtol": rtol, "radau_s_per_traj": radau_per, "radau_rel_err": radau_err,
                       "etd_dt": dt, "etd_s": etd_s, "etd_rel_err": etd_err, "speedup": speedup,
                       "floor_s": floor_s, "floor_speedup": radau_per * n / floor_s})
    return {"speedup": levels[-1]["speedup"], "levels": levels, "n": n}
