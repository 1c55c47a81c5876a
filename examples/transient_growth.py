"""Learn the transient-growth system of seed 003 §5.1 with an exponential (ETD) vs an IMEX integrator.

The data ``y' = A y + ε y∘y`` (``pysciml.systems`` ``transient_growth``, variants ``decay`` with
``μ_2(A) < 0`` and ``growth`` with ``μ_2(A) > 0``) are observed at only a few time points. A
structure-preserving NODE ``z' = A_θ z + N_θ(z)`` (Hurwitz ``A_θ``; bilinear ``N_θ`` for ``decay``,
Lipschitz-controlled MLP for ``growth``, as in the seed) is trained with one large step per observation
interval, once with exponential Euler (``etd1``) and once with IMEX-SSP2(2,2,2) (``imex_ssp2``). Outputs in
``--out``: ``transient_growth.png`` (trajectories like the seed's Figures 3–4 plus ``‖e^{tA}‖``) and
``errors.json`` (relative test errors at the training step and when deployed with a 10× smaller step).

Usage: ``python examples/transient_growth.py --out results/transient_growth [--iterations 400]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

import pysciml  # noqa: E402
from pysciml.io import atomic_path, save_figure  # noqa: E402
from pysciml.models import BilinearLowRank, HurwitzLinear, LipschitzMLP, StructurePreservingNODE  # noqa: E402
from pysciml.stability import transient_growth  # noqa: E402

#: Observation times used for training (few points, seed 003 §5.1): decay uses only the end points.
TRAIN_TIMES = {"decay": [0.0, 4.0], "growth": [0.0, 2.0, 4.0]}
METHODS = ("etd1", "imex_ssp2")


def make_data(variant: str, n: int, seed: int, t_dense: np.ndarray) -> np.ndarray:
    """Reference trajectories ``[n, T, 2]`` on ``t_dense`` (adaptive RK, tight tolerances)."""
    system = pysciml.systems.get("transient_growth", variant=variant)
    y0 = system.initial_conditions(n, seed=seed)
    return pysciml.solve(system, y0, t_dense, method="RK45", rtol=1e-10, atol=1e-12).y


def build_model(variant: str, method: str, step: float) -> StructurePreservingNODE:
    """Identity encoder/decoder, Hurwitz linear part, bilinear (decay) or Lipschitz (growth) nonlinearity."""
    nonlinear = (BilinearLowRank(2, rank=8) if variant == "decay"
                 else LipschitzMLP(2, 2, hidden=100, layers=2, lipschitz=1.0, bias=False))
    return StructurePreservingNODE(None, HurwitzLinear(2), nonlinear, None, method=method,
                                   step_size=step).double()


def train(model: StructurePreservingNODE, y: torch.Tensor, t: torch.Tensor, iterations: int, lr: float,
          desc: str) -> list[float]:
    """Full-batch Adam on the mean squared error in the original coordinates; returns the loss history."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in tqdm(range(iterations), desc=desc, leave=False):
        opt.zero_grad()
        loss = torch.mean((model(y[:, 0], t) - y) ** 2)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def rel_error(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """``‖pred − truth‖_F / ‖truth‖_F`` over all trajectories and times after ``t = 0``."""
    return float(torch.linalg.norm(pred[:, 1:] - truth[:, 1:]) / torch.linalg.norm(truth[:, 1:]))


def run(out: Path, iterations: int = 400, n_train: int = 1000, n_test: int = 200, seed: int = 0,
        lr: float = 0.01) -> dict[str, Any]:
    """Train both integrators on both variants; write the figure and ``errors.json``; return the errors."""
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    results: dict[str, Any] = {}
    for row, variant in enumerate(("decay", "growth")):
        t_train = np.asarray(TRAIN_TIMES[variant])
        step = float(t_train[1] - t_train[0])
        t_dense = np.linspace(0.0, t_train[-1], int(round(t_train[-1] / step)) * 10 + 1)
        stride = 10
        y_tr = torch.as_tensor(make_data(variant, n_train, seed, t_dense))
        y_te = torch.as_tensor(make_data(variant, n_test, seed + 1, t_dense))
        t_tr, t_de = torch.as_tensor(t_train), torch.as_tensor(t_dense)
        results[variant] = {"train_times": t_train.tolist(), "step": step}
        for method in METHODS:
            model = build_model(variant, method, step)
            losses = train(model, y_tr[:, ::stride], t_tr, iterations, lr, f"{variant}/{method}")
            with torch.no_grad():
                coarse = model(y_te[:, 0], t_tr)
                fine = model(y_te[:, 0], t_de, step_size=step / stride)
                a_learned = model.linear.matrix()
            results[variant][method] = {
                "test_error_train_step": rel_error(coarse, y_te[:, ::stride]),
                "test_error_small_step": rel_error(fine, y_te),
                "final_train_loss": losses[-1],
                "learned_A": a_learned.tolist(),
            }
            style = {"etd1": ("tab:blue", "-"), "imex_ssp2": ("tab:red", "--")}[method]
            for comp in range(2):
                ax = axes[row, comp]
                lines = ax.plot(t_dense, fine[:3, :, comp].T, color=style[0], ls=style[1], lw=1)
                lines[0].set_label(f"{method} (deployed with step/{stride})")
                ax.plot(t_train, coarse[:3, :, comp].T, "o", color=style[0], ms=4)
            tg = transient_growth(a_learned, t_de)
            axes[row, 2].plot(t_dense, tg.norms, color=style[0], ls=style[1], label=method)
        system = pysciml.systems.get("transient_growth", variant=variant)
        true_tg = transient_growth(system.linear_operator(), t_de)
        axes[row, 2].plot(t_dense, true_tg.norms, color="k", label="true A")
        axes[row, 2].set_title(rf"{variant}: $\|e^{{tA}}\|_2$")
        for comp in range(2):
            axes[row, comp].plot(t_dense, y_te[:3, :, comp].T.numpy(), color="k", lw=2, alpha=0.4)
            axes[row, comp].set_title(f"{variant}: $y_{comp + 1}$ (black: truth, dots: training step)")
            axes[row, comp].set_xlabel("t")
        axes[row, 0].legend(fontsize=8)
        axes[row, 2].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "transient_growth.png", dpi=120)
    plt.close(fig)
    with atomic_path(out / "errors.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
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
