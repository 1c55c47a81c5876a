"""Checkpoints: constructor configs, load_model round trips of every model type, format/version/type errors,
and the SHA-256 digest catching flipped bits."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import pysciml
from pysciml import models
from pysciml.errors import CheckpointError, UnknownNameError, ValidationError
from pysciml.models._config import MODEL_TYPES, build_from_config, model_config
from pysciml.training import load_checkpoint, load_model, save_checkpoint
from pysciml.training.checkpoint import model_record


def _spnode(nonlinear: str, autoencoder: bool) -> nn.Module:
    dim, latent = 4, (2 if autoencoder else 4)
    nl = (models.LipschitzMLP(latent, latent, hidden=8, lipschitz=0.5) if nonlinear == "lipschitz"
          else models.BilinearLowRank(latent, rank=3))
    linear = models.HurwitzLinear(latent, shift=0.2, init_rates=torch.linspace(0.5, 2.0, latent))
    if autoencoder:
        ae = models.Autoencoder(dim, latent, hidden=8)
        return models.StructurePreservingNODE(ae.encoder, linear, nl, ae.decoder, method="etdrk4", step_size=0.05)
    return models.StructurePreservingNODE(None, linear, nl, method="imex_ssp2", step_size=0.05)


BUILDERS = {
    "MLPVectorField": lambda: models.MLPVectorField(3, hidden=8, layers=2, activation="gelu",
                                                    time_dependent=True),
    "StableNODE": lambda: models.StableNODE(3, activation="leaky_relu", alpha=0.2),
    "StableNODE(activation module)": lambda: models.StableNODE(
        3, activation=models.SlopeBoundedActivation("leaky_tanh", 0.3)),
    "SlopeBoundedActivation": lambda: models.SlopeBoundedActivation("leaky_relu", 0.05),
    "HurwitzLinear": lambda: models.HurwitzLinear(3, shift=-0.1, eps=1e-2),
    "LipschitzMLP": lambda: models.LipschitzMLP(3, 2, hidden=8, layers=3, lipschitz=None, bias=False),
    "BilinearLowRank": lambda: models.BilinearLowRank(3, rank=2, init_scale=0.5),
    "Autoencoder": lambda: models.Autoencoder(5, 2, hidden=8, layers=1, activation="tanh"),
    "StructurePreservingNODE(lipschitz)": lambda: _spnode("lipschitz", False),
    "StructurePreservingNODE(autoencoder, bilinear)": lambda: _spnode("bilinear", True),
    "NeuralODEClassifier(MLP)": lambda: models.NeuralODEClassifier(models.MLPVectorField(2, hidden=8), 3,
                                                                     t1=0.5, method="rk4", step_size=0.1),
    "NeuralODEClassifier(StableNODE)": lambda: models.NeuralODEClassifier(models.StableNODE(2), 2,
                                                                           method="dopri5", rtol=1e-5),
    "VehicleSurrogate": lambda: models.VehicleSurrogate(hidden=8, mass=2.0),
    "MultiAgentKinematics": lambda: models.MultiAgentKinematics({"n_agents": 3, "k_v": 0.1}, hidden=8),
}


def _inputs(model: nn.Module) -> tuple:
    torch.manual_seed(1)
    if isinstance(model, (models.MLPVectorField, models.StableNODE)):
        return torch.zeros(5, dtype=torch.float64), torch.randn(5, model.dim, dtype=torch.float64)
    if isinstance(model, models.StructurePreservingNODE):
        return torch.randn(5, 4, dtype=torch.float64), torch.linspace(0, 0.2, 5, dtype=torch.float64)
    if isinstance(model, models.NeuralODEClassifier):
        return (torch.randn(5, model.dim, dtype=torch.float64),)
    if isinstance(model, models.Autoencoder):
        return (torch.randn(5, 5, dtype=torch.float64),)
    if isinstance(model, models.VehicleSurrogate):
        return torch.zeros(5), torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    if isinstance(model, models.MultiAgentKinematics):
        return torch.zeros(5), torch.randn(5, 9, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    if isinstance(model, models.LipschitzMLP):
        return (torch.randn(5, 3, dtype=torch.float64),)
    return (torch.randn(5, 3, dtype=torch.float64),)


# solver adaptors that hold data (an input series), not trainable models with a constructor config
NOT_CHECKPOINTED = {"with_input"}


def test_every_model_class_is_registered():
    exported = {name for name in models.__all__ if isinstance(getattr(models, name), type)} - NOT_CHECKPOINTED
    assert exported <= set(MODEL_TYPES), exported - set(MODEL_TYPES)
    covered = {name.split("(")[0] for name in BUILDERS}
    assert exported <= covered, exported - covered


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_load_model_round_trips_every_model_type(tmp_path, name):
    torch.manual_seed(0)
    model = BUILDERS[name]().double()
    with torch.no_grad():  # move the weights away from any fresh initialisation
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_checkpoint(tmp_path / "m.pt", {**model_record(model), "model": model.state_dict()})
    torch.manual_seed(123)  # the rebuild draws other initial weights; the loaded ones must win
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is type(model) and not loaded.training
    assert model_config(loaded) == model_config(model)
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if not isinstance(model, models.SlopeBoundedActivation):
        assert all(p.dtype == torch.float64 for p in loaded.parameters())
    x = _inputs(model)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))


def test_config_is_json_and_records_arguments():
    model = BUILDERS["StructurePreservingNODE(autoencoder, bilinear)"]()
    cfg = model_config(model)
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["args"]["method"] == "etdrk4" and cfg["args"]["step_size"] == 0.05
    assert cfg["args"]["linear"]["__module__"]["args"]["shift"] == 0.2
    assert cfg["args"]["encoder"]["__module__"]["type"] == "Sequential"
    rebuilt = build_from_config(cfg)
    assert [type(m) for m in rebuilt.modules()] == [type(m) for m in model.modules()]


def test_unrecordable_models_are_named():
    class Custom(nn.Module):
        def forward(self, t, y):
            return y

    with pytest.raises(ValidationError, match="Custom"):
        model_config(Custom())
    with pytest.raises(ValidationError, match="Custom"):
        model_config(models.NeuralODEClassifier(Custom(), 2, dim=2))

    class Sub(models.MLPVectorField):  # own constructor: its arguments are unknown
        def __init__(self) -> None:
            super().__init__(2)

    with pytest.raises(ValidationError, match="Sub"):
        model_config(Sub())
    with pytest.raises(UnknownNameError, match="MLPVectorField"):
        build_from_config({"type": "Nope", "args": {}})
    with pytest.raises(ValidationError, match="cannot build"):
        build_from_config({"type": "MLPVectorField", "args": {"dim": 2, "bogus": 1}})


def test_load_model_errors(tmp_path):
    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2))

    save_checkpoint(tmp_path / "c.pt", {**model_record(Custom()), "model": Custom().state_dict()})
    with pytest.raises(CheckpointError, match="no model config"):
        load_model(tmp_path / "c.pt")
    mlp = models.MLPVectorField(2)
    save_checkpoint(tmp_path / "m.pt", {**model_record(mlp), "model": mlp.state_dict()})
    with pytest.raises(CheckpointError, match="not a 'StableNODE'"):
        load_model(tmp_path / "m.pt", model_type=models.StableNODE)
    assert isinstance(pysciml.load_model(tmp_path / "m.pt", model_type="MLPVectorField"), models.MLPVectorField)
    # weights of another architecture under this config
    bad = {**model_record(mlp), "model": models.MLPVectorField(2, hidden=3).state_dict()}
    save_checkpoint(tmp_path / "b.pt", bad)
    with pytest.raises(CheckpointError, match="cannot rebuild"):
        load_model(tmp_path / "b.pt")
    # another format version / no format tag (e.g. a plain torch.save or an older pysciml)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    torch.save({**payload, "format_version": 99}, tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(tmp_path / "v.pt")
    torch.save({"model": mlp.state_dict()}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a pysciml-checkpoint"):
        load_model(tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def _flip(path, offset: int, bit: int) -> bytes:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 1 << bit
    return bytes(raw)


def test_checksum_detects_flipped_bits(tmp_path):
    torch.manual_seed(0)
    model = models.MLPVectorField(3, hidden=16).double()
    payload = {**model_record(model), "model": model.state_dict(), "epoch": 3, "note": "x"}
    path = save_checkpoint(tmp_path / "ok.pt", payload)
    raw = path.read_bytes()
    weight = model.state_dict()["net.0.weight"].numpy().tobytes()
    start = raw.index(weight)  # the tensor's storage lies verbatim in the zip archive
    bad = tmp_path / "bad.pt"
    for offset in (start, start + len(weight) // 2, start + len(weight) - 1):
        for bit in (0, 7):
            bad.write_bytes(_flip(path, offset, bit))
            with pytest.raises(CheckpointError, match="corrupted"):
                load_checkpoint(bad)
    # a flip anywhere else either makes the file unreadable, or is caught by the digest, or hit padding
    # that holds no content: a successful load always returns exactly the saved content
    for offset in range(0, len(raw), max(1, len(raw) // 97)):
        bad.write_bytes(_flip(path, offset, 3))
        try:
            got = load_checkpoint(bad)
        except CheckpointError:
            continue
        assert got["epoch"] == 3 and got["note"] == "x"
        assert all(torch.equal(got["model"][k], v) for k, v in model.state_dict().items())
    # verify=False skips the digest (for speed), the content is then returned as stored
    bad.write_bytes(_flip(path, start, 0))
    assert load_checkpoint(bad, verify=False)["epoch"] == 3
