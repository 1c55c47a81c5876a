"""Minimal stabilising perturbation vs the scaled-identity shift (seed 002), for d = 16, 64, 256.

Problem: ``A`` with i.i.d. ``N(0, 4/d)`` entries (seed 0; ``‖A‖_2 ≈ 4``, ``δ(A) ≈ 2.5``), slopes in
``[α, 1]`` with ``α = 0.2`` (leaky activations), target ``δ̄ = 0`` (non-expansive flow). For each d, one run
of :func:`pysciml.stability.stabilize` (cutting plane, default ``rtol = 0.05``, one thread) and of the
baseline :func:`pysciml.stability.identity_shift`: the smallest ``c ≥ 0`` with ``δ(A − cI) ≤ δ̄``, whose
perturbation has ``‖cI‖_F = c√d``. Printed per d: wall times, ``‖Δ‖_F``, the certified lower bound on the
minimal norm, the shift's norm and the ratio ``‖Δ‖_F / ‖cI‖_F``, and the achieved δ interval
``[delta, delta_upper]`` (exact for d ≤ 12; ascent + certified bound above). For d > 12 the shift's ``c`` is
computed with the ascent (a lower estimate of the needed shift), so the printed ratio is, if anything, too
large. Last line: ``stabilize_d64_seconds=<s> stabilize_d64_vs_shift=<ratio>``.

Usage: ``python benchmarks/bench_stability.py [--quick]`` (``--quick`` skips d = 256, which takes minutes).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from pysciml.stability import identity_shift, stabilize

ALPHA, TARGET = 0.2, 0.0


def run(d: int) -> tuple[float, float]:
    """Stabilise the d-dimensional test matrix; print one row; return (seconds, ‖Δ‖_F / shift norm)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(d, d, generator=gen, dtype=torch.float64) * (2.0 / math.sqrt(d))
    start = time.perf_counter()
    res = stabilize(a, ALPHA, TARGET)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    shift_norm = identity_shift(a, ALPHA, TARGET) * math.sqrt(d)
    t_shift = time.perf_counter() - start
    ratio = res.epsilon / shift_norm
    print(f"{d:>4} {t_ours:>9.2f} {t_shift:>9.2f} {res.epsilon:>9.4f} {res.epsilon_lower_bound:>9.4f} "
          f"{shift_norm:>9.4f} {ratio:>6.3f}  [{res.delta_initial:+.3f}] -> [{res.delta:+.2e}, {res.delta_upper:+.2e}]"
          f"  it={res.iterations} cuts={res.n_cuts}", flush=True)
    return t_ours, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only d = 16 and 64")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"alpha={ALPHA} delta_target={TARGET}; times in s; norms are Frobenius")
    print(f"{'d':>4} {'t_ours':>9} {'t_shift':>9} {'|Delta|':>9} {'lower':>9} {'|cI|':>9} {'ratio':>6}  "
          "[delta(A)] -> [delta, delta_upper] of A + Delta")
    results = {d: run(d) for d in ((16, 64) if args.quick else (16, 64, 256))}
    seconds, ratio = results[64]
    print(f"stabilize_d64_seconds={seconds:.2f} stabilize_d64_vs_shift={ratio:.3f}")


if __name__ == "__main__":
    main()
