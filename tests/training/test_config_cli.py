"""`pysciml train CONFIG.toml`: config validation and an end-to-end run of the example config."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
from pathlib import Path

import pytest

from pysciml.cli import train_cmd
from pysciml.errors import UnknownNameError, ValidationError
from pysciml.training.config import load_config, train_from_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "configs" / "two_body.toml"


def _have(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


NEEDS_ENGINE = pytest.mark.skipif(
    not (_have("pysciml.integrators", "odeint") and _have("pysciml.models", "MLPVectorField")),
    reason="needs pysciml.odeint and pysciml.models.MLPVectorField")


def test_example_config_parses():
    cfg = load_config(EXAMPLE)
    assert cfg["data"]["window"] == 2 and cfg["integrator"]["method"] == "rk4"
    assert cfg["regularizers"][0]["type"] == "JacobianAD"


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\npath = 'x.h5'\n[model]\ntype='mlp'\n[bogus]\n")
    with pytest.raises(ValidationError, match="unknown config key"):
        load_config(bad)
    bad.write_text("[data\n")
    with pytest.raises(ValidationError, match="not valid TOML"):
        load_config(bad)
    bad.write_text("[data]\npath = 'x.h5'\n")
    with pytest.raises(ValidationError, match=r"\[model\]"):
        load_config(bad)
    with pytest.raises(ValidationError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@NEEDS_ENGINE
def test_train_cli_end_to_end(tmp_path):
    import numpy as np

    import pysciml

    pysciml.generate("two_body", n=4, t_eval=np.arange(31) * 0.01, path=tmp_path / "two_body.h5",
                     method="DOP853", rtol=1e-10, atol=1e-12, progress=False)
    text = EXAMPLE.read_text().replace("epochs = 50", "epochs = 2")
    text = text.replace("val_window = 50", "val_window = 5")
    cfg = tmp_path / "two_body.toml"
    cfg.write_text(text)
    parser = argparse.ArgumentParser()
    train_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", str(cfg), "--no-progress"])
    assert args.func(args) == 0
    out = tmp_path / "runs" / "two_body"
    records = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(np.isfinite(r["val_loss"]) for r in records)
    assert (out / "checkpoint.pt").is_file() and (out / "loss_curve.png").is_file()
    shutil.copy(cfg, tmp_path / "again.toml")
    result = train_from_config(tmp_path / "again.toml", resume=True, progress=False)
    assert len(result.history) == 2  # already finished: resume adds no epoch


def test_unknown_regularizer_name():
    from pysciml.training import config as config_mod

    with pytest.raises(UnknownNameError, match="JacobianAD"):
        config_mod._build_regularizers([{"type": "Jacobian"}], data=None)
