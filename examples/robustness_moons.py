"""Robustness of neural-ODE classifiers on the intertwining moons, with and without Frobenius Jacobian
regularisation (the comparison of Josias & Brink, "Jacobian Norm Regularisation and Conditioning in Neural
ODEs", SACAIR 2022, Figs. 5, 6 and 8), over several training seeds.

    python examples/robustness_moons.py --out out/robustness_moons [--seeds 3 --epochs 60]

Writes ``fgsm.png`` and ``noise.png`` (test accuracy vs ε / σ, mean ±
std over seeds), ``boundary.png`` (box plot of the distances of correctly classified test points) and
``results.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from pysciml.datasets import moons
from pysciml.evaluation import (
    accuracy,
    adversarial_curve,
    decision_boundary_distance,
    noise_curve,
    plot_accuracy_curves,
    plot_boundary_distances,
)
from pysciml.io import atomic_path
from pysciml.models import MLPVectorField, NeuralODEClassifier
from pysciml.regularizers import JacobianFrobenius
from pysciml.training import ClassifierTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/robustness_moons", help="output folder")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per configuration")
    parser.add_argument("--epochs", type=int, default=60, help="training epochs")
    args = parser.parse_args()
    out = Path(args.out)
    torch.set_num_threads(1)

    data = moons(n_train=500, n_test=300, noise=0.1, seed=0, dtype=torch.float64)
    configs = {"baseline": [], "Frobenius λ=1": [JacobianFrobenius(1.0, estimator="exact")]}
    eps, sig = np.linspace(0, 0.4, 9), np.linspace(0, 0.8, 9)
    fg, nz, dist, summary = {}, {}, {}, {}
    for label, regs in configs.items():
        fg[label], nz[label], dist[label] = [], [], []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = NeuralODEClassifier(MLPVectorField(2, hidden=32, layers=2), 2, method="rk4",
                                        step_size=0.25).double()
            ClassifierTrainer(model, data.train, data.test, regularizers=regs, track_jacobian=False, lr=1e-2,
                              batch_size=50, epochs=args.epochs, seed=seed, progress=False).fit()
            x, y = data.test
            fg[label].append(adversarial_curve(model, x, y, eps, attack="fgsm"))
            nz[label].append(noise_curve(model, x, y, sig, n_draws=5, seed=seed))
            dist[label].append(decision_boundary_distance(model, x, y, n_directions=64, rtol=1e-3, seed=seed))
            print(f"{label} seed {seed}: test accuracy {accuracy(model, x, y):.3f}, median boundary distance "
                  f"{dist[label][-1].summary()['median']:.3f}")
        summary[label] = {"fgsm_mean": np.mean([c.mean for c in fg[label]], axis=0).tolist(),
                          "noise_mean": np.mean([c.mean for c in nz[label]], axis=0).tolist(),
                          "distance_median": float(np.median(np.concatenate([d.selected() for d in dist[label]])))}
    plot_accuracy_curves(fg, out / "fgsm.png", xlabel="FGSM budget ε (input units)",
                         title=f"moons: FGSM, mean ± std over {args.seeds} seeds")
    plot_accuracy_curves(nz, out / "noise.png", xlabel="Gaussian noise σ (input units)",
                         title=f"moons: Gaussian noise, mean ± std over {args.seeds} seeds")
    plot_boundary_distances(dist, out / "boundary.png", title="moons: test points, correctly classified")
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps({"epsilons": eps.tolist(), "sigmas": sig.tolist(), **summary}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
