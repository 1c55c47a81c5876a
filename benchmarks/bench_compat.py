"""Benchmark: ``pysciml.compat`` vs torchdiffeq on the same calls, method by method (forward + backward).

The MLP field of ``bench_explicit.py`` (2→64→64→2, tanh), ``y0 [64, 2]`` as *one* torchdiffeq state, 11 output
times on [0, 1], float64, rtol 1e-7 / atol 1e-9 (fixed-grid methods: ``step_size`` 0.02); loss ``sum(y²)``,
backpropagation through the solver (and the adjoint for dopri5). For each method: median wall time of ours and
torchdiffeq's over interleaved repeats and their ratio (ours / theirs), the field calls of each (NFE, forward and
backward) and the max error of each against a tight dopri8 solution (rtol 1e-12).
The last line is ``geomean_ratio=<x>`` over the methods.

Usage: ``python benchmarks/bench_compat.py [--quick] [--repeats N] [--threads N]``.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from _timing import time_interleaved  # benchmarks/ is on sys.path when a script here runs
from bench_explicit import MLPField

from pysciml import compat

CASES: list[tuple[str, dict[str, Any] | None, bool]] = [
    ("dopri5", None, False), ("dopri5", None, True), ("dopri8", None, False), ("bosh3", None, False),
    ("fehlberg2", None, False), ("adaptive_heun", None, False), ("euler", {"step_size": 0.02}, False),
    ("midpoint", {"step_size": 0.02}, False), ("heun3", {"step_size": 0.02}, False),
    ("rk4", {"step_size": 0.02}, False), ("explicit_adams", {"step_size": 0.02}, False),
    ("implicit_adams", {"step_size": 0.02}, False),
]


def run(lib: Any, field: MLPField, y0: torch.Tensor, t: torch.Tensor, method: str, options: dict[str, Any] | None,
        adjoint: bool) -> tuple[torch.Tensor, int]:
    """One forward + backward; returns the solution and the field calls."""
    field.calls = 0
    solve: Callable[..., Any] = lib.odeint_adjoint if adjoint else lib.odeint
    ys = solve(field, y0, t, rtol=1e-7, atol=1e-9, method=method, options=options)
    ys.square().sum().backward()
    field.zero_grad(set_to_none=True)
    return ys.detach(), field.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 interleaved repeats instead of 20")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 20)
    torch.set_num_threads(args.threads)
    import torchdiffeq

    torch.manual_seed(0)
    field = MLPField().double()
    y0 = torch.randn(64, 2, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    with torch.no_grad():
        ref = compat.odeint(field, y0, t, rtol=1e-12, atol=1e-13, method="dopri8")
    print(f"{'method':>22} {'ours s':>9} {'torchdiffeq s':>14} {'ratio':>6} {'NFE ours/theirs':>16} "
          f"{'err ours':>9} {'err theirs':>10}")
    ratios = []
    for method, options, adjoint in CASES:
        libs = {"ours": compat, "torchdiffeq": torchdiffeq}
        case = functools.partial(run, field=field, y0=y0, t=t, method=method, options=options, adjoint=adjoint)
        results = {name: case(lib) for name, lib in libs.items()}
        times = time_interleaved({name: functools.partial(case, lib) for name, lib in libs.items()}, repeats)
        ratio = times["ours"] / times["torchdiffeq"]
        ratios.append(ratio)
        errs = {name: (ys - ref).abs().max().item() for name, (ys, _) in results.items()}
        label = method + (" (adjoint)" if adjoint else "")
        nfe = f"{results['ours'][1]:>7d}/{results['torchdiffeq'][1]:<8d}"
        print(f"{label:>22} {times['ours']:9.4f} {times['torchdiffeq']:14.4f} {ratio:6.2f} {nfe} "
              f"{errs['ours']:9.1e} {errs['torchdiffeq']:10.1e}")
    print(f"geomean_ratio={math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")


if __name__ == "__main__":
    main()
