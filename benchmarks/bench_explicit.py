"""Benchmark: pysciml.odeint (dopri5, backprop) vs torchdiffeq dopri5 (direct, adjoint), forward + backward.

MLP vector field 2→64→64→2 (tanh), batch 256, t ∈ [0, 1], rtol 1e-7 / atol 1e-9, float64, all in one
process; median wall time over interleaved repeats. NFE: ours = batched vector-field calls (``ODESolution.n_calls``,
forward) and the mean per-sample ``n_f_evals``; torchdiffeq = calls of the field counted by a wrapper.
A fourth candidate is ours with ``first_max_factor=10``, i.e. torchdiffeq's step-growth rule after the first step
(pysciml's default lets the first step grow by up to 10⁴, as SUNDIALS does): it separates what the engine gains
from what the controller saves. A fifth times the field alone (torchdiffeq's NFE evaluations at the full batch,
forward + backward, no solver): its ratio to torchdiffeq is the floor for any solver that makes those full-batch
evaluations (per-sample stepping can go below it when some samples need fewer steps).
Accuracy: the max error at t = 1 against a tight torchdiffeq solution (rtol 1e-12), both at the benchmark's
tolerance.
The last line is ``ratio_vs_torchdiffeq_direct=<x> ratio_vs_torchdiffeq_adjoint=<y>`` (ours / theirs).
``--sweep`` first prints the same direct comparison at rtol 1e-5 ... 1e-9 (atol = rtol / 100).

Usage: ``python benchmarks/bench_explicit.py [--quick] [--sweep] [--repeats N] [--threads N]``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

import torch
from _timing import time_interleaved  # benchmarks/ is on sys.path when a script here runs

import pysciml


class MLPField(torch.nn.Module):
    """``f(t, y) = MLP(y)`` with a call counter (NFE as torchdiffeq users measure it)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                                       torch.nn.Tanh(), torch.nn.Linear(64, 2))
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 interleaved repeats instead of 50 (< 1 minute)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweep", action="store_true", help="also compare at rtol 1e-5 ... 1e-9 (20 repeats each)")
    args = parser.parse_args()
    repeats = args.repeats or (15 if args.quick else 50)
    torch.set_num_threads(args.threads)
    import torchdiffeq

    torch.manual_seed(0)
    field = MLPField().double()
    y0 = torch.randn(256, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    tol = {"rtol": 1e-7, "atol": 1e-9}

    if args.sweep:
        sweep(field, y0, t, torchdiffeq)

    nfe: dict[str, float] = {}

    def ours_with(label: str, **options: float) -> Callable[[], None]:
        def run() -> None:
            sol = pysciml.odeint(field, y0, t, method="dopri5", **tol, **options)
            nfe[label] = sol.n_calls
            nfe[label + "_per_sample"] = float(sol.stats["n_f_evals"].double().mean())
            sol.ys[:, -1].pow(2).sum().backward()
        return run

    ours = ours_with("ours")
    ours_classic = ours_with("classic", first_max_factor=10.0)

    def td_direct() -> None:
        field.calls = 0
        ys = torchdiffeq.odeint(field, y0, t, method="dopri5", **tol)
        nfe["torchdiffeq"] = field.calls
        ys[-1].pow(2).sum().backward()

    def td_adjoint() -> None:
        field.calls = 0
        ys = torchdiffeq.odeint_adjoint(field, y0, t, method="dopri5", **tol)
        nfe["torchdiffeq_adjoint_fwd"] = field.calls
        ys[-1].pow(2).sum().backward()

    # accuracy at t = 1 against a tight torchdiffeq solution, both at the benchmark's tolerance
    with torch.no_grad():
        ref = torchdiffeq.odeint(field, y0, t, method="dopri5", rtol=1e-12, atol=1e-14)[-1]
        sol = pysciml.odeint(field, y0, t, method="dopri5", **tol)
        extra = int((sol.stats["n_steps"] > sol.stats["n_steps"].min()).sum())
        err_ours = float((sol.ys[:, -1] - ref).abs().max())
        err_td = float((torchdiffeq.odeint(field, y0, t, method="dopri5", **tol)[-1] - ref).abs().max())
    td_direct()  # counts torchdiffeq's NFE for the floor below
    n_floor = int(nfe["torchdiffeq"])

    def field_alone() -> None:
        # the vector field's own cost at torchdiffeq's NFE, forward + backward, with no solver around it
        outs = [field(t[0], y0) for _ in range(n_floor)]
        torch.stack(outs).pow(2).sum().backward()

    med = time_interleaved({"ours": ours, "classic": ours_classic, "direct": td_direct, "adjoint": td_adjoint,
                            "floor": field_alone}, repeats)
    t_ours, t_direct, t_adj = med["ours"], med["direct"], med["adjoint"]
    print(f"repeats={repeats} threads={args.threads} batch=256 float64 dopri5 rtol=1e-7 atol=1e-9")
    print(f"pysciml (backprop):     median {t_ours * 1e3:8.1f} ms  forward NFE {nfe['ours']} "
          f"(mean per-sample n_f_evals {nfe['ours_per_sample']:.1f})")
    print(f"pysciml, first_max_factor=10 (torchdiffeq's growth rule): median {med['classic'] * 1e3:8.1f} ms  "
          f"forward NFE {nfe['classic']} (mean per-sample n_f_evals {nfe['classic_per_sample']:.1f}): "
          f"ratio {med['classic'] / t_direct:.3f} vs torchdiffeq direct")
    print(f"torchdiffeq direct:     median {t_direct * 1e3:8.1f} ms  forward NFE {nfe['torchdiffeq']}")
    print(f"torchdiffeq adjoint:    median {t_adj * 1e3:8.1f} ms  "
          f"forward NFE {nfe['torchdiffeq_adjoint_fwd']}")
    print(f"field alone (no solver): median {med['floor'] * 1e3:8.1f} ms  {n_floor} evaluations forward + backward: "
          f"a solver making these full-batch evaluations cannot go below ratio {med['floor'] / t_direct:.3f} "
          "vs torchdiffeq direct")
    print(f"max abs error at t=1 vs a tight reference: pysciml {err_ours:.2e}, torchdiffeq {err_td:.2e} "
          f"(torchdiffeq steps past t=1 and interpolates back; pysciml ends a step on t=1 and controls the error "
          f"of each sample: {extra} of 256 samples took more steps than the fewest)")
    print(f"ratio_vs_torchdiffeq_direct={t_ours / t_direct:.3f} "
          f"ratio_vs_torchdiffeq_adjoint={t_ours / t_adj:.3f}")

def _ours_once(field: MLPField, y0: torch.Tensor, t: torch.Tensor, options: dict[str, float]) -> None:
    pysciml.odeint(field, y0, t, method="dopri5", **options).ys[:, -1].pow(2).sum().backward()


def _torchdiffeq_once(torchdiffeq: Any, field: MLPField, y0: torch.Tensor, t: torch.Tensor,
                      tol: dict[str, float]) -> None:
    torchdiffeq.odeint(field, y0, t, method="dopri5", **tol)[-1].pow(2).sum().backward()


def sweep(field: MLPField, y0: torch.Tensor, t: torch.Tensor, torchdiffeq: Any) -> None:
    """Forward + backward ratio to torchdiffeq direct at several tolerances, pysciml's default and the classic
    growth rule, with the batched calls and the mean per-sample evaluations of each."""
    variants = {"default": {}, "classic": {"first_max_factor": 10.0}}
    for rtol in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
        tol = {"rtol": rtol, "atol": rtol / 100}
        fns = {label: functools.partial(_ours_once, field, y0, t, {**tol, **extra})
               for label, extra in variants.items()}
        fns["torchdiffeq"] = functools.partial(_torchdiffeq_once, torchdiffeq, field, y0, t, tol)
        med = time_interleaved(fns, 20)
        field.calls = 0
        with torch.no_grad():
            torchdiffeq.odeint(field, y0, t, method="dopri5", **tol)
            line = [f"rtol {rtol:.0e}: torchdiffeq {field.calls} calls"]
            for label, extra in variants.items():
                sol = pysciml.odeint(field, y0, t, method="dopri5", **tol, **extra)
                line.append(f"{label} ratio {med[label] / med['torchdiffeq']:.3f} ({sol.n_calls} calls, "
                            f"{float(sol.stats['n_f_evals'].double().mean()):.1f} per sample)")
        print(" | ".join(line))


if __name__ == "__main__":
    main()
