"""`pysciml train` configs: every trainable model of pysciml.models, classification data, data generated on
request, and load_model on the outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pysciml
from pysciml import models
from pysciml.errors import UnknownNameError, ValidationError
from pysciml.training.config import _build_model, train_from_config

COMMON = """
seed = 0
out_dir = "out"
progress = false
[optimizer]
epochs = 2
batch_size = 64
lr = 1e-3
"""


def _trajectories(path) -> None:
    pysciml.generate("two_body", n=4, t_eval=np.arange(11) * 0.01, path=path, method="DOP853", rtol=1e-10,
                     atol=1e-12, progress=False)


MODELS = {
    "mlp": ('[model]\ntype = "mlp"\nhidden = 8\n[integrator]\nmethod = "rk4"\nstep_size = 0.01\n',
            models.MLPVectorField),
    "stable": ('[model]\ntype = "StableNODE"\nactivation = "leaky_relu"\nalpha = 0.2\n'
               '[integrator]\nmethod = "dopri5"\nrtol = 1e-6\n', models.StableNODE),
    "sp-lipschitz": ('[model]\ntype = "StructurePreservingNODE"\nmethod = "etd1"\nstep_size = 0.01\n'
                     '[model.linear]\nshift = 0.1\n[model.nonlinear]\ntype = "LipschitzMLP"\nhidden = 8\n'
                     'lipschitz = 0.5\n', models.StructurePreservingNODE),
    "sp-autoencoder-bilinear": ('[model]\ntype = "StructurePreservingNODE"\nlatent = 2\nmethod = "imex_ssp2"\n'
                                'step_size = 0.01\n[model.autoencoder]\nhidden = 8\nlayers = 1\n'
                                '[model.linear]\ntype = "HurwitzLinear"\n'
                                '[model.nonlinear]\ntype = "BilinearLowRank"\nrank = 2\n',
                                models.StructurePreservingNODE),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_train_config_accepts_every_trajectory_model(tmp_path, name):
    table, cls = MODELS[name]
    _trajectories(tmp_path / "d.h5")
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMMON + '[data]\npath = "d.h5"\nwindow = 3\nval_fraction = 0.5\n' + table)
    result = train_from_config(cfg)
    assert result.status == "completed" and len(result.history) == 2
    assert all(np.isfinite(r["val_loss"]) for r in result.history)
    model = pysciml.load_model(tmp_path / "out" / "best_model.pt")
    assert type(model) is cls
    ckpt = torch.load(tmp_path / "out" / "best_model.pt", weights_only=True)
    assert all(torch.equal(v, ckpt["model"][k]) for k, v in model.state_dict().items())


def test_train_config_classifier_from_npz(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    x = rng.normal(size=(60, 2)) * 0.3 + np.stack([np.cos(2.1 * labels), np.sin(2.1 * labels)], axis=1)
    np.savez(tmp_path / "blobs.npz", x=x, labels=labels)
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMMON + '[data]\npath = "blobs.npz"\nval_fraction = 0.25\n'
                   '[model]\ntype = "NeuralODEClassifier"\nmethod = "rk4"\nstep_size = 0.25\n'
                   '[model.vector_field]\ntype = "StableNODE"\n'
                   '[[regularizers]]\ntype = "JacobianFrobenius"\nweight = 1e-3\n')
    result = train_from_config(cfg)
    assert result.status == "completed" and "val_acc" in result.history[-1]
    assert "reg_JacobianFrobenius" in result.history[-1]
    model = pysciml.load_model(tmp_path / "out" / "checkpoint.pt", model_type="NeuralODEClassifier")
    assert model.head.out_features == 3 and isinstance(model.vector_field, models.StableNODE)


def test_missing_data_is_generated_from_the_recipe(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMMON + '[data]\npath = "new/d.h5"\nwindow = 2\nval_fraction = 0.5\n'
                   '[data.generate]\nsystem = "two_body"\nn = 4\nt_span = [0.0, 0.1]\nnum = 11\n'
                   'method = "DOP853"\nrtol = 1e-10\natol = 1e-12\n'
                   '[model]\ntype = "mlp"\nhidden = 4\n[integrator]\nmethod = "rk4"\nstep_size = 0.01\n')
    train_from_config(cfg)
    data = pysciml.load_dataset(tmp_path / "new" / "d.h5")
    assert data.y.shape == (4, 11, 4)
    _trajectories(tmp_path / "same.h5")  # the recipe gives the file `pysciml generate` gives
    assert np.array_equal(data.y, pysciml.load_dataset(tmp_path / "same.h5").y)
    lines = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[-1])["epoch"] == 1


def test_model_table_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="StableNODE"):
        _build_model({"type": "Transformer"}, 4)
    with pytest.raises(UnknownNameError, match="cannot be trained"):
        _build_model({"type": "HurwitzLinear"}, 4)
    with pytest.raises(ValidationError, match="nonlinear"):
        _build_model({"type": "StructurePreservingNODE"}, 4)
    with pytest.raises(ValidationError, match="autoencoder"):
        _build_model({"type": "StructurePreservingNODE", "latent": 2,
                      "nonlinear": {"type": "BilinearLowRank", "rank": 1}}, 4)
    with pytest.raises(ValidationError, match="classification"):
        _build_model({"type": "NeuralODEClassifier", "vector_field": {"type": "mlp"}}, 2)
    _trajectories(tmp_path / "d.h5")
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMMON + '[data]\npath = "d.h5"\n[model]\ntype = "StructurePreservingNODE"\n'
                   '[model.nonlinear]\ntype = "BilinearLowRank"\nrank = 1\n[integrator]\nmethod = "rk4"\n')
    with pytest.raises(ValidationError, match=r"\[integrator\]"):
        train_from_config(cfg)
