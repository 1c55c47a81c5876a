"""The container every classification loader returns, and the numpy → torch edge shared by them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..errors import ValidationError

__all__ = ["ClassificationData", "stratified_split"]


@dataclass
class ClassificationData:
    """A train/test pair of a classification set: inputs ``x [n, ...]`` (float) and labels ``y [n]`` (int64).

    ``train`` and ``test`` are ``(x, y)`` tuples as :class:`pysciml.training.ClassifierTrainer` takes them;
    :meth:`train_dataset` / :meth:`test_dataset` wrap them as :class:`torch.utils.data.TensorDataset`.
    ``meta`` records how the set was made (name, parameters, seed, source files).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_train, self.y_train

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_test, self.y_test

    def train_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_train, self.y_train)

    def test_dataset(self) -> TensorDataset:
        return TensorDataset(self.x_test, self.y_test)

    @classmethod
    def from_numpy(cls, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   num_classes: int, meta: dict[str, Any], dtype: torch.dtype | None = None
                   ) -> ClassificationData:
        """Convert numpy arrays (the data edge) to tensors of ``dtype`` (default: torch's default dtype)."""
        dtype = dtype or torch.get_default_dtype()
        if not dtype.is_floating_point:
            raise ValidationError(f"dtype must be a floating-point torch dtype, got {dtype}")

        def xs(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a)).to(dtype)

        def ys(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64))

        return cls(xs(x_train), ys(y_train), xs(x_test), ys(y_test), int(num_classes), dict(meta))


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with ``round(test_fraction · n_c)`` test samples from every class ``c``.

    Deterministic for a given ``seed``; each class keeps its proportion in both parts, and both index arrays are
    in random order (so that files stored class by class come out mixed).
    """
    if not 0 < test_fraction < 1:
        raise ValidationError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
