"""MNIST autoencoder latents: shapes, cache reuse, checksum verification, atomic cache writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pysciml.datasets import ClassificationData, images, load_mnist, mnist_latents
from pysciml.errors import DatasetError, InputTypeError

FAST = {"hidden": 16, "layers": 1, "epochs": 2, "batch_size": 32, "progress": False}


def _images(n_train: int = 60, n_test: int = 20, seed: int = 0) -> ClassificationData:
    g = torch.Generator().manual_seed(seed)
    return ClassificationData(torch.rand(n_train, 1, 28, 28, generator=g), torch.arange(n_train) % 10,
                              torch.rand(n_test, 1, 28, 28, generator=g), torch.arange(n_test) % 10, 10,
                              {"name": "synthetic"})


def test_latents_shapes_and_cache_reuse(tmp_path: Path) -> None:
    data = _images()
    first = mnist_latents(data, cache_dir=tmp_path, **FAST)
    assert first.trained and first.cache_path.exists() and first.cache_path.parent == tmp_path
    z = first.data
    assert z.x_train.shape == (60, 5) and z.x_test.shape == (20, 5) and z.num_classes == 10
    assert torch.equal(z.y_train, data.y_train) and torch.equal(z.y_test, data.y_test)
    torch.testing.assert_close(z.x_train.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.x_train.std(0), torch.ones(5), atol=1e-5, rtol=0)
    second = mnist_latents(data, cache_dir=tmp_path, **FAST)
    assert not second.trained and second.cache_path == first.cache_path
    assert torch.equal(second.data.x_test, z.x_test)
    # a different training set or configuration gets its own cache entry
    other = mnist_latents(_images(seed=1), cache_dir=tmp_path, **FAST)
    assert other.trained and other.cache_path != first.cache_path
    assert mnist_latents(data, cache_dir=tmp_path, latent_dim=3, **FAST).data.x_train.shape == (60, 3)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pt"] * 3  # no temporary files left


def test_training_is_deterministic(tmp_path: Path) -> None:
    a = mnist_latents(_images(), cache_dir=tmp_path / "a", standardize=False, **FAST)
    b = mnist_latents(_images(), cache_dir=tmp_path / "b", standardize=False, **FAST)
    assert torch.equal(a.data.x_train, b.data.x_train)
    assert torch.equal(a.autoencoder.encode(_images().x_test.flatten(1)).detach(), b.data.x_test)


def test_corrupt_or_tampered_cache_is_rejected(tmp_path: Path) -> None:
    data = _images()
    path = mnist_latents(data, cache_dir=tmp_path, **FAST).cache_path
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["encoder.0.weight"][0, 0] += 1.0
    torch.save(blob, path)
    with pytest.raises(DatasetError, match="recorded checksum"):
        mnist_latents(data, cache_dir=tmp_path, **FAST)
    blob["inputs_sha256"] = "0" * 64
    torch.save(blob, path)
    with pytest.raises(DatasetError, match="inputs checksum"):
        mnist_latents(data, cache_dir=tmp_path, **FAST)
    path.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="overwrite=True"):
        mnist_latents(data, cache_dir=tmp_path, **FAST)
    assert mnist_latents(data, cache_dir=tmp_path, overwrite=True, **FAST).trained
    assert not mnist_latents(data, cache_dir=tmp_path, **FAST).trained


def test_cache_never_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        mnist_latents(_images(), cache_dir=tmp_path, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputTypeError):
        mnist_latents((torch.rand(3, 784), torch.zeros(3)), cache_dir=tmp_path, **FAST)


@pytest.mark.slow
def test_real_mnist_latents_are_informative(tmp_path: Path) -> None:
    try:
        images.find_mnist()
    except DatasetError as exc:
        pytest.skip(str(exc))
    from sklearn.linear_model import LogisticRegression

    res = mnist_latents(load_mnist(), cache_dir=tmp_path, epochs=5, progress=False)
    z = res.data
    clf = LogisticRegression(max_iter=2000).fit(z.x_train.numpy(), z.y_train.numpy())
    assert clf.score(z.x_test.numpy(), z.y_test.numpy()) > 0.7  # 10 classes from 5 numbers per image
