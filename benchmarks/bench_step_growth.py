"""Solver study: the growth allowed after the first step (``first_max_factor``), 10⁴ (default) vs 10 (torchdiffeq).

For each problem (non-stiff systems of the catalogue, Van der Pol μ = 1, Lotka–Volterra, a random linear system
with skew + damping, and the MLP field of ``bench_explicit.py`` on [0, 1]), each adaptive explicit method
(dopri5, tsit5, bosh3) and rtol ∈ {1e-3, 1e-6, 1e-9} (atol = rtol / 100), both settings solve the same batch
(outputs at t1/2 and t1) and we compare the total per-sample evaluations, the rejected steps, the batched field
calls and the max error against a tight reference (dopri5, rtol 1e-12; samples whose reference failed are left
out of the error). No timing: this is about how much work the controller asks for, at what accuracy.

The last line is ``nfe_ratio=<x> rejected_ratio=<y> calls_ratio=<z>`` (totals over every case, default / 10).

Usage: ``python benchmarks/bench_step_growth.py [--quick]`` (``--quick``: 16 samples per problem, rtol 1e-3 and
1e-6 only).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from bench_explicit import MLPField  # benchmarks/ is on sys.path when a script here runs

import pysciml
from pysciml import systems

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DT = torch.float64


def problems(n: int) -> list[tuple[str, Field, torch.Tensor, float]]:
    """``(name, f, y0 [n, d], t1)`` for every problem of the study (seeded)."""
    gen = torch.Generator().manual_seed(0)
    out: list[tuple[str, Field, torch.Tensor, float]] = []
    for name in ("two_body", "rigid_body", "vehicle", "transient_growth"):
        system = systems.get(name)
        y0 = torch.as_tensor(system.initial_conditions(n, seed=0), dtype=DT)
        out.append((name, system.rhs_torch, y0, float(system.default_t_span[1])))
    a = torch.randn(8, 8, dtype=DT, generator=gen)
    a = a - a.T - 0.5 * torch.eye(8, dtype=DT)
    out.append(("linear8", lambda t, y: y @ a.T, torch.randn(n, 8, dtype=DT, generator=gen), 5.0))
    out.append(("van_der_pol", lambda t, y: torch.stack([y[:, 1], (1 - y[:, 0] ** 2) * y[:, 1] - y[:, 0]], 1),
                2 * torch.randn(n, 2, dtype=DT, generator=gen), 10.0))
    out.append(("lotka_volterra",
                lambda t, y: torch.stack([1.5 * y[:, 0] - y[:, 0] * y[:, 1], y[:, 0] * y[:, 1] - 3 * y[:, 1]], 1),
                0.5 + 3 * torch.rand(n, 2, dtype=DT, generator=gen), 10.0))
    torch.manual_seed(0)
    out.append(("mlp", MLPField().double(), torch.randn(16 * n, 2, dtype=DT, generator=gen), 1.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 samples per problem, rtol 1e-3 and 1e-6")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = 16 if args.quick else 64
    rtols = (1e-3, 1e-6) if args.quick else (1e-3, 1e-6, 1e-9)
    settings = {"default": 1e4, "10": 10.0}
    totals = {key: {"nfe": 0, "rejected": 0, "calls": 0} for key in settings}
    print(f"{'problem':16s} {'method':6s} {'rtol':5s} | " + " | ".join(
        f"first_max_factor={key}: per-sample evals, rejected, calls, max error" for key in settings))
    with torch.no_grad():
        for name, f, y0, t1 in problems(n):
            t = torch.tensor([0.0, t1 / 2, t1], dtype=DT)
            ref = pysciml.odeint(f, y0, t, method="dopri5", rtol=1e-12, atol=1e-14, max_steps=200_000)
            ok = ref.status == 0
            for method in ("dopri5", "tsit5", "bosh3"):
                for rtol in rtols:
                    cells = []
                    for key, growth in settings.items():
                        sol = pysciml.odeint(f, y0, t, method=method, rtol=rtol, atol=rtol / 100,
                                             first_max_factor=growth, max_steps=200_000)
                        good = ok & (sol.status == 0)
                        err = float((sol.ys[good] - ref.ys[good]).abs().max()) if bool(good.any()) else float("nan")
                        stats = {"nfe": int(sol.stats["n_f_evals"].sum()),
                                 "rejected": int(sol.stats["n_rejected"].sum()), "calls": sol.n_calls}
                        for k, v in stats.items():
                            totals[key][k] += v
                        cells.append(f"{stats['nfe']:8d} {stats['rejected']:6d} {stats['calls']:6d} {err:8.1e}")
                    print(f"{name:16s} {method:6s} {rtol:5.0e} | " + " | ".join(cells))
    new, old = totals["default"], totals["10"]
    print(f"totals: default {new}, first_max_factor=10 {old}")
    print(f"nfe_ratio={new['nfe'] / old['nfe']:.4f} rejected_ratio={new['rejected'] / old['rejected']:.4f} "
          f"calls_ratio={new['calls'] / old['calls']:.4f}")


if __name__ == "__main__":
    main()
