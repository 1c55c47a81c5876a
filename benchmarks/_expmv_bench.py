"""Benchmark: batched :func:`pysciml.integrators.expmv.expmv` vs a Python loop of SciPy's ``expm_multiply``.

1000 per-sample random stable matrices of size d = 20 (``A = (S − S^T)/2 − M M^T/d − I/2`` with Gaussian
``S, M``, then scaled so that ``‖A‖₁ ∈ [3, 30]``), 1000 vectors: ours is one ``expmv(A [1000, 20, 20],
b [1000, 20])`` call (per-sample ``(m*, s)``); SciPy is ``expm_multiply(A_i, b_i)`` for i = 1 … 1000 in a loop,
same process, float64. The two must agree to 1e-10 relative (max over samples of ``‖x − ref‖/‖ref‖``).
Times are medians over repeats (3 in quick mode); thread settings are left as they are.

Usage: ``python benchmarks/_expmv_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import expm_multiply

from pysciml.integrators.expmv import expmv

BATCH = 1000
DIM = 20


def _problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``A [BATCH, DIM, DIM]`` (Hurwitz, ``‖A_i‖₁`` uniform in [3, 30]) and ``b [BATCH, DIM]``, float64."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(BATCH, DIM, DIM, generator=g, dtype=torch.float64)
    m = torch.randn(BATCH, DIM, DIM, generator=g, dtype=torch.float64)
    a = (s - s.transpose(1, 2)) / 2 - m @ m.transpose(1, 2) / DIM - 0.5 * torch.eye(DIM, dtype=torch.float64)
    target = 3.0 + 27.0 * torch.rand(BATCH, generator=g, dtype=torch.float64)
    a = a * (target / a.abs().sum(-2).amax(-1)).view(-1, 1, 1)
    b = torch.randn(BATCH, DIM, generator=g, dtype=torch.float64)
    return a, b


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_expmv(quick: bool) -> dict:
    """Time ours vs the SciPy loop; return ``{"speedup", "ours_s", "scipy_s", "max_rel_err"}``."""
    repeats = 3 if quick else 7
    a, b = _problem()
    a_np, b_np = a.numpy(), b.numpy()

    def ours() -> torch.Tensor:
        with torch.no_grad():
            return expmv(a, b)

    def scipy_loop() -> np.ndarray:
        return np.stack([expm_multiply(a_np[i], b_np[i]) for i in range(BATCH)])

    x = ours().numpy()
    ref = scipy_loop()
    max_rel_err = float((np.linalg.norm(x - ref, axis=1) / np.linalg.norm(ref, axis=1)).max())
    if not max_rel_err <= 1e-10:
        raise AssertionError(f"expmv and scipy expm_multiply disagree: max relative error {max_rel_err:.3e}")
    ours_s = _median_time(ours, repeats)
    scipy_s = _median_time(scipy_loop, repeats)
    result = {"speedup": scipy_s / ours_s, "ours_s": ours_s, "scipy_s": scipy_s, "max_rel_err": max_rel_err}
    print(f"expmv batched [{BATCH}, {DIM}, {DIM}]: {ours_s * 1e3:.1f} ms; scipy expm_multiply loop: "
          f"{scipy_s * 1e3:.1f} ms; speedup {result['speedup']:.1f}x; max rel err {max_rel_err:.2e}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    print(bench_expmv(parser.parse_args().quick))
