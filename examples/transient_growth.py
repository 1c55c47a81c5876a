"""Learn the transient-growth system of Alvarez Loya et al. (arXiv:2503.01775) §5.1 with ETD vs IMEX.

The data ``y' = A y + ε y∘y`` (``pysciml.systems`` ``transient_growth``, variants ``decay`` with
``μ_2(A) < 0`` and ``growth`` with ``μ_2(A) > 0``) are observed at only a few time points. A
structure-preserving NODE ``z' = A_θ z + N_θ(z)`` (Hurwitz ``A_θ``; bilinear ``N_θ`` for ``decay``,
Lipschitz-controlled MLP for ``growth``, as in the paper) is trained with one large step per observation
interval, once with exponential Euler (``etd1``) and once with IMEX-SSP2(2,2,2) (``imex_ssp2``). The training
and evaluation are :func:`pysciml.reproduce.alvarez_loya_experiments.transient_growth_run`, the same code as
``pysciml reproduce 003``; this script runs it once per (variant, integrator) and writes ``errors.json``
(relative test errors at the training step and when deployed with a 10× smaller step) to ``--out``. The
figure of Figs. 2–4 comes with ``pysciml reproduce 003``.

Usage: ``python examples/transient_growth.py --out results/transient_growth [--iterations 400]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pysciml.io import atomic_path
from pysciml.reproduce.alvarez_loya_experiments import transient_growth_run

METHODS = ("etd1", "imex_ssp2")
KEYS = ("test_error_train_step", "test_error_small_step", "final_train_loss", "learned_A", "step", "t_train")


def run(out: Path, iterations: int = 400, n_train: int = 1000, n_test: int = 200, seed: int = 0,
        lr: float = 0.01) -> dict[str, Any]:
    """Train both integrators on both variants; write ``errors.json``; return the errors."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for variant in ("decay", "growth"):
        results[variant] = {}
        for method in METHODS:
            res = transient_growth_run(variant, method, seed, iterations=iterations, n_train=n_train,
                                       n_test=n_test, lr=lr)
            results[variant][method] = {k: res[k] for k in KEYS}
    with atomic_path(out / "errors.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--iterations", type=int, default=400, help="full-batch Adam iterations per model")
    parser.add_argument("--n-train", type=int, default=1000, help="training trajectories")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the initial weights")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = run(args.out, args.iterations, args.n_train, seed=args.seed)
    for variant in ("decay", "growth"):
        errs = {m: round(results[variant][m]["test_error_train_step"], 5) for m in METHODS}
        print(f"{variant}: relative test error at the training step {errs}")
    print(f"done in {time.perf_counter() - start:.1f} s; outputs in {args.out}")
    return results


if __name__ == "__main__":
    main()
