"""Figure for README: the minimal stabilising perturbation vs the identity shift, and the certified δ interval.

For d = 4, 8, 16, 32 (A with i.i.d. N(0, 4/d) entries, seed 0; slopes in [α, 1] with α = 0.2, target δ̄ = 0), the
left panel draws ‖Δ‖_F of :func:`pysciml.stability.stabilize` next to its certified lower bound on the minimal
norm and the norm ‖cI‖_F = c√d of the smallest identity shift (:func:`pysciml.stability.identity_shift`); the
right panel draws, for random A of each size, the interval [δ, δ_upper] that
:func:`pysciml.stability.contractivity_delta` returns with the scalable ascent (δ is attained at a vertex, so a
lower bound; δ_upper is proven), and, up to d = 12, the exact δ by vertex enumeration.

Usage: ``python examples/stabilize_figure.py [--out docs/figures/stability]`` (about a minute on one core).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from pysciml.io import save_figure  # noqa: E402
from pysciml.stability import contractivity_delta, identity_shift, stabilize  # noqa: E402

ALPHA, TARGET = 0.2, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/figures/stability", help="output folder (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = (4, 8, 16, 32)
    eps, lower, shift = [], [], []
    for d in sizes:
        a = torch.randn(d, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * (2 / math.sqrt(d))
        res = stabilize(a, ALPHA, TARGET)
        eps.append(res.epsilon)
        lower.append(res.epsilon_lower_bound)
        shift.append(identity_shift(a, ALPHA, TARGET) * math.sqrt(d))
        print(f"d={d}: |Delta|_F={res.epsilon:.4f} (lower bound {res.epsilon_lower_bound:.4f}), "
              f"identity shift {shift[-1]:.4f}")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(sizes, shift, "s-", label="identity shift ‖cI‖_F")
    ax1.plot(sizes, eps, "o-", label="stabilize ‖Δ‖_F")
    ax1.plot(sizes, lower, "v--", label="certified lower bound on min ‖Δ‖_F")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("dimension d")
    ax1.set_ylabel("Frobenius norm of the perturbation")
    ax1.set_title(f"reaching δ̄ = {TARGET} (α = {ALPHA})")
    ax1.legend()
    for k, d in enumerate((6, 10, 24, 48)):
        gen = torch.Generator().manual_seed(100 + k)
        for j in range(5):
            a = torch.randn(d, d, generator=gen, dtype=torch.float64) * (2 / math.sqrt(d))
            r = contractivity_delta(a, ALPHA, method="ascent")
            x = d * (1 + 0.04 * (j - 2))
            ax2.plot([x, x], [r.delta, r.upper_bound], "-", color="C0", lw=3,
                     label="[δ, δ_upper] (ascent)" if k == j == 0 else None)
            if d <= 12:
                exact = contractivity_delta(a, ALPHA, method="exact").delta
                ax2.plot(x, exact, "kx", label="exact δ (vertex enumeration)" if k == j == 0 else None)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("dimension d")
    ax2.set_ylabel("δ = max over α ≤ D ≤ 1 of μ₂(DA)")
    ax2.set_title("certified δ intervals, 5 random A per size")
    ax2.legend()
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out / "stabilize.png")
    print(f"wrote {out / 'stabilize.png'}")


if __name__ == "__main__":
    main()
