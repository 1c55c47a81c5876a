"""``pysciml evaluate robustness | rollout | report`` end to end on tiny trained models (in-process CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pysciml
from pysciml.cli.main import main
from pysciml.datasets import toy_dataset
from pysciml.models import MLPVectorField, NeuralODEClassifier
from pysciml.training import ClassifierTrainer, RolloutTrainer


@pytest.fixture(scope="module")
def classifier_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("clf")
    data = toy_dataset("moons", n_train=64, n_test=32, seed=0)
    model = NeuralODEClassifier(MLPVectorField(2, hidden=8), 2, method="rk4", step_size=0.25).double()
    x, y = data.train
    ClassifierTrainer(model, (x.double(), y), epochs=1, batch_size=32, out_dir=out, progress=False).fit()
    return out / "best_model.pt"


@pytest.fixture(scope="module")
def rollout_setup(tmp_path_factory):
    out = tmp_path_factory.mktemp("rollout")
    t = np.linspace(0.0, 0.5, 11)
    data = pysciml.generate("two_body", 4, t, out / "tb.h5", method="DOP853", rtol=1e-10, atol=1e-10)
    model = MLPVectorField(4, hidden=8).double()
    RolloutTrainer(model, data, window=3, batch_size=8, method="rk4", step_size=0.05, epochs=1, out_dir=out,
                   progress=False).fit()
    return out / "best_model.pt", out / "tb.h5"


def test_evaluate_robustness_writes_report(classifier_ckpt, tmp_path):
    code = main(["evaluate", "robustness", str(classifier_ckpt), "--data", "moons", "--out", str(tmp_path),
                 "--epsilons", "0,0.1", "--sigmas", "0,0.2", "--n-draws", "2", "--n-directions", "8",
                 "--boundary-points", "4", "--max-points", "16", "--attacks", "fgsm", "--no-progress"])
    assert code == 0
    report = json.loads((tmp_path / "robustness.json").read_text())
    assert 0.0 <= report["clean_accuracy"] <= 1.0 and report["n_samples"] == 16
    assert {p.name for p in tmp_path.glob("*.png")} >= {"adversarial.png", "noise.png"}


def test_evaluate_rollout_and_report(rollout_setup, tmp_path):
    ckpt, data = rollout_setup
    assert main(["evaluate", "rollout", str(ckpt), "--data", str(data), "--method", "rk4", "--step-size", "0.05",
                 "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "r" / "rollout.json").read_text())
    assert summary  # metrics present
    assert (tmp_path / "r" / "relative_error.png").is_file()
    assert main(["evaluate", "report", str(ckpt), "--data", str(data), "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "stability.json").is_file()


def test_evaluate_bad_input_is_a_clear_error(classifier_ckpt, tmp_path, capsys):
    assert main(["evaluate", "robustness", str(classifier_ckpt), "--data", "nope.txt", "--out", str(tmp_path)]) == 2
    assert "--data must be" in capsys.readouterr().err
    assert main(["evaluate", "robustness", str(classifier_ckpt), "--data", "moons", "--epsilons", "a,b",
                 "--out", str(tmp_path)]) == 2
    assert "--epsilons" in capsys.readouterr().err
    assert main(["evaluate", "report", str(tmp_path / "missing.pt")]) == 2


def test_evaluate_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "rollout", "--help"])
    assert exc.value.code == 0 and "R_e(t)" in capsys.readouterr().out
