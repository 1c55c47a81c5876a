"""5-D autoencoder latents of MNIST, the fourth data set of Josias & Brink, "Jacobian Norm Regularisation and
Conditioning in Neural ODEs" (SACAIR 2022, §5): an MLP autoencoder is trained on the training images (MSE
reconstruction loss, Adam), and the encoder's codes of the training and test images, with their labels, form a
10-class set in ``R^latent_dim``.

The trained autoencoder is cached: ``<cache_dir>/mnist_autoencoder_<key>.pt``, written atomically, holding the
weights, the configuration, the SHA-256 of the inputs (configuration + training images + labels; ``key`` is its
prefix) and the SHA-256 of the weights. A later call with the same inputs verifies both checksums and reuses the
weights; a cache file that fails the check raises :class:`DatasetError` (delete it or pass ``overwrite=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import DatasetError, InputTypeError, ValidationError
from ..io import atomic_path
from ..models import Autoencoder
from ..validation import check_positive_int
from .base import ClassificationData

__all__ = ["LatentData", "default_cache_dir", "mnist_latents"]

CACHE_FORMAT = "pysciml-mnist-autoencoder"
CACHE_VERSION = 1


@dataclass
class LatentData:
    """Result of :func:`mnist_latents`: the latent set (``x [n, latent_dim]``), the autoencoder, its cache file
    and whether it was trained in this call (``False``: loaded from the cache)."""

    data: ClassificationData
    autoencoder: Autoencoder
    cache_path: Path
    trained: bool


def default_cache_dir() -> Path:
    """``$PYSCIML_CACHE_DIR`` or ``~/.cache/pysciml``."""
    return Path(os.environ.get("PYSCIML_CACHE_DIR", Path.home() / ".cache" / "pysciml"))


def _hash_tensors(h: Any, tensors: list[torch.Tensor]) -> None:
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())


def _state_sha(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        _hash_tensors(h, [state[name]])
    return h.hexdigest()


def _flat_images(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InputTypeError(f"{name} must be a floating-point tensor of images")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValidationError(f"{name} must be [n, ...] images with n >= 1, got shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)


def _train(ae: Autoencoder, x: torch.Tensor, config: dict[str, Any], progress: bool) -> float:
    gen = torch.Generator().manual_seed(config["seed"])
    opt = torch.optim.Adam(ae.parameters(), lr=config["lr"])
    loss = torch.zeros(())
    ae.train()
    for _ in tqdm(range(config["epochs"]), desc="autoencoder", disable=not progress, leave=False):
        for idx in torch.randperm(x.shape[0], generator=gen).split(config["batch_size"]):
            loss = nn.functional.mse_loss(ae(x[idx]), x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    ae.eval()
    return float(loss.detach())


def _load_cache(path: Path, inputs_sha: str) -> dict[str, Any]:
    fix = f"delete {path} or pass overwrite=True to retrain"
    try:
        blob = torch.load(path, weights_only=True)
    except Exception as exc:  # any unreadable file (pickle, zip, EOF errors) is reported the same way
        raise DatasetError(f"autoencoder cache {path} is unreadable ({type(exc).__name__}: {exc}); {fix}") from exc
    if not isinstance(blob, dict) or blob.get("format") != CACHE_FORMAT or blob.get("version") != CACHE_VERSION:
        raise DatasetError(f"{path} is not a version-{CACHE_VERSION} {CACHE_FORMAT} cache; {fix}")
    if blob.get("inputs_sha256") != inputs_sha:
        raise DatasetError(f"autoencoder cache {path} records inputs checksum {blob.get('inputs_sha256')!r}, "
                           f"the inputs now give {inputs_sha!r}; {fix}")
    if _state_sha(blob["state_dict"]) != blob.get("state_sha256"):
        raise DatasetError(f"autoencoder cache {path}: the weights do not match their recorded checksum; {fix}")
    return blob


def mnist_latents(data: ClassificationData | None = None, *, latent_dim: int = 5, hidden: int = 256,
                  layers: int = 2, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                  cache_dir: str | os.PathLike[str] | None = None, standardize: bool = True,
                  overwrite: bool = False, progress: bool = True) -> LatentData:
    """Latent codes ``z = encoder(image)`` of ``data`` (default :func:`pysciml.datasets.load_mnist`).

    Args:
        data: images ``x [n, 1, 28, 28]`` or ``[n, 784]`` (any image size works) with labels.
        latent_dim, hidden, layers: the :class:`pysciml.models.Autoencoder` (GELU MLP; 5-D codes as the paper).
        epochs, batch_size, lr, seed: training (Adam on the mean squared reconstruction error; deterministic).
        cache_dir: where the trained autoencoder is kept (default :func:`default_cache_dir`).
        standardize: shift and scale every latent coordinate to zero mean and unit variance over the training
            codes (the shift and scale are in ``meta``).
        overwrite: retrain even when a valid cache exists.

    Returns:
        :class:`LatentData`; ``data.x_train [n_train, latent_dim]``, labels unchanged.
    """
    if data is None:
        from .images import load_mnist

        data = load_mnist()
    if not isinstance(data, ClassificationData):
        raise InputTypeError(f"data must be a ClassificationData, got {type(data).__name__}")
    x_train, x_test = _flat_images(data.x_train, "data.x_train"), _flat_images(data.x_test, "data.x_test")
    if x_test.shape[1] != x_train.shape[1]:
        raise ValidationError(f"train and test images differ in size: {x_train.shape[1]} vs {x_test.shape[1]} "
                              f"pixels")
    if not (lr > 0):
        raise ValidationError(f"lr must be > 0, got {lr!r}")
    config = {"latent_dim": check_positive_int(latent_dim, "latent_dim"),
              "hidden": check_positive_int(hidden, "hidden"), "layers": check_positive_int(layers, "layers"),
              "epochs": check_positive_int(epochs, "epochs"),
              "batch_size": check_positive_int(batch_size, "batch_size"), "lr": float(lr), "seed": int(seed),
              "dim": int(x_train.shape[1])}
    h = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, "version": CACHE_VERSION, **config},
                                  sort_keys=True).encode())
    _hash_tensors(h, [x_train, data.y_train])
    inputs_sha = h.hexdigest()
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"mnist_autoencoder_{inputs_sha[:16]}.pt"

    with torch.random.fork_rng():
        torch.manual_seed(config["seed"])
        ae = Autoencoder(config["dim"], config["latent_dim"], hidden=config["hidden"], layers=config["layers"])
    ae = ae.to(x_train.dtype)
    trained = overwrite or not path.exists()
    if trained:
        loss = _train(ae, x_train, config, progress)
        state = {k: v.detach().clone() for k, v in ae.state_dict().items()}
        blob = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "inputs_sha256": inputs_sha, "config": config,
                "state_dict": state, "state_sha256": _state_sha(state), "final_batch_loss": loss}
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)
    else:
        ae.load_state_dict(_load_cache(path, inputs_sha)["state_dict"])
    ae.eval()
    with torch.no_grad():
        z_train, z_test = ae.encode(x_train), ae.encode(x_test)
    meta = {**data.meta, "name": f"{data.meta.get('name', 'images')}_latent{latent_dim}",
            "autoencoder": config, "inputs_sha256": inputs_sha, "cache": str(path)}
    if standardize:
        shift, scale = z_train.mean(0), z_train.std(0).clamp_min(1e-12)
        z_train, z_test = (z_train - shift) / scale, (z_test - shift) / scale
        meta.update(latent_shift=shift.tolist(), latent_scale=scale.tolist())
    latent = ClassificationData(z_train, data.y_train.clone(), z_test, data.y_test.clone(), data.num_classes, meta)
    return LatentData(latent, ae, path, trained)
