"""Figures of the classification data sets for the README.

    python examples/dataset_figures.py --out docs/figures

Writes ``toy_datasets.png`` (moons, spiral, annulus, broken annulus), ``image_samples.png`` (FashionMNIST and
MNIST test images with labels) and ``mnist_latent.png`` (MNIST test digits and their reconstructions through
the 5-D autoencoder of :func:`pysciml.datasets.mnist_latents`, as Josias & Brink's Fig. 9), and prints the test
accuracy of a linear classifier on the 5-D latents.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from pysciml.datasets import (  # noqa: E402
    FASHION_MNIST_CLASSES,
    TOY_DATASETS,
    load_fashion_mnist,
    load_mnist,
    mnist_latents,
    plot_toy_datasets,
    toy_dataset,
)
from pysciml.io import save_figure  # noqa: E402


def _image_rows(rows: list[tuple[str, torch.Tensor, list[str]]], path: Path) -> None:
    cols = max(len(r[1]) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.1 * cols, 1.35 * len(rows)), squeeze=False)
    for (name, imgs, titles), ax_row in zip(rows, axes, strict=True):
        for j, ax in enumerate(ax_row):
            ax.axis("off")
            if j < len(imgs):
                ax.imshow(imgs[j].reshape(28, 28).numpy(), cmap="gray_r", vmin=0, vmax=1)
                ax.set_title(titles[j], fontsize=7)
        ax_row[0].text(-0.15, 0.5, name, transform=ax_row[0].transAxes, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/figures", help="output folder")
    parser.add_argument("--cache-dir", default=None, help="autoencoder cache (default ~/.cache/pysciml)")
    args = parser.parse_args()
    out = Path(args.out)
    torch.set_num_threads(1)
    plot_toy_datasets({n: toy_dataset(n) for n in TOY_DATASETS}, out / "toy_datasets.png", max_points=600)

    fashion, mnist = load_fashion_mnist(), load_mnist()
    n = 10
    _image_rows([("FashionMNIST", fashion.x_test[:n], [FASHION_MNIST_CLASSES[int(c)] for c in fashion.y_test[:n]]),
                 (f"MNIST ({mnist.meta['source']})", mnist.x_test[:n], [str(int(c)) for c in mnist.y_test[:n]])],
                out / "image_samples.png")

    latent = mnist_latents(mnist, cache_dir=args.cache_dir, epochs=10, standardize=False)
    with torch.no_grad():
        recon = latent.autoencoder(mnist.x_test[:n].flatten(1)).clamp(0, 1)
    _image_rows([("original", mnist.x_test[:n], [str(int(c)) for c in mnist.y_test[:n]]),
                 ("5-D reconstruction", recon, [""] * n)], out / "mnist_latent.png")
    from sklearn.linear_model import LogisticRegression

    z = latent.data
    acc = LogisticRegression(max_iter=2000).fit(z.x_train.numpy(), z.y_train.numpy()).score(z.x_test.numpy(),
                                                                                           z.y_test.numpy())
    print(f"MNIST source {mnist.meta['source']}: {z.x_train.shape[0]} train / {z.x_test.shape[0]} test; "
          f"logistic regression on the 5-D latents: test accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
