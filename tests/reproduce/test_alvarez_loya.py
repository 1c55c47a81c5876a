"""``pysciml reproduce 003`` (Alvarez Loya, Serino, Burby, Tang, arXiv:2503.01775): smoke end to end (default
suite), the claim rules on constructed results, the experiment helpers, and the quick mode (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pysciml.cli.main import main
from pysciml.data import TrajectoryData
from pysciml.reproduce import alvarez_loya as al
from pysciml.reproduce import alvarez_loya_experiments as ex
from pysciml.reproduce import get_paper


def test_smoke_003_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "r003"
    assert main(["reproduce", "003", "--smoke", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    paper = get_paper("003")
    assert [c["name"] for c in json.loads((out / "claims.json").read_text())] == [c.name for c in paper.claims]
    judged = {c["name"]: c["verdict"] for c in results["claims"]}
    assert set(judged) == {c.name for c in paper.claims}
    assert set(judged.values()) <= {"reproduced", "partially reproduced", "not reproduced"}
    assert {k.split("/")[0] for k in results["runs"]} == {"tg", "robertson", "noise", "lipschitz", "ks"}
    for line in report.splitlines():
        if line.startswith("![") and "](" in line:
            assert (out / line.split("](")[1].rstrip(")")).stat().st_size > 0
    assert "0.052662" in report  # the paper's Table 1 beside ours
    assert "## Scaled down from the paper's settings" in report
    tg = results["runs"]["tg/decay-etd1/seed0"]["result"]
    assert len(tg["t_train"]) == 2 and 0 < tg["test_error_train_step"] < math.inf
    # the learned A is Hurwitz by construction
    assert max(np.linalg.eigvals(np.asarray(tg["learned_A"])).real) < 0
    rob = results["runs"]["robertson/autoencoder/seed0"]["result"]
    assert len(rob["t"]) == 13 and max(rob["eigenvalues_real"]) < 0 and math.isfinite(rob["test_rel_error"])
    ks = results["runs"]["ks/latent7/seed0"]["result"]
    assert ks["time_expm_s"] > 0 and ks["time_expmv_s"] > 0 and 0 <= ks["hellinger"] <= 1
    assert 0 <= ks["hellinger_truth_vs_truth"] <= 1 and len(ks["agreement_time"]) == ks["n_test"]


def test_rel_error_and_decay_factor_exact() -> None:
    truth = torch.ones(2, 3, 1)
    pred = truth.clone()
    pred[:, 0] = 5.0  # the initial time is excluded
    pred[0, 1] = 2.0  # one error of 1 over 4 entries of norm 1 each -> 1/2
    assert ex.rel_error(pred, truth) == pytest.approx(0.5)
    pred[1, 2] = float("nan")
    assert ex.rel_error(pred, truth) == math.inf
    assert al._decay_per_epoch(0.9 ** 10, 50) ** 50 == pytest.approx(0.9 ** 10)


def test_noise_has_the_requested_standard_deviation() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(400, 5, 3)) * np.array([1.0, 10.0, 0.1])
    data = TrajectoryData(np.arange(5.0), y)
    noisy = ex._noisy(data, 0.1, seed=1)
    ratio = (noisy.y - y).reshape(-1, 3).std(axis=0) / y.reshape(-1, 3).std(axis=0)
    assert np.allclose(ratio, 0.1, rtol=0.05)
    assert ex._noisy(data, 0.0, seed=1) is data


def test_init_scale_multiplies_weights_and_lipschitz_bound_still_holds() -> None:
    torch.manual_seed(0)
    model = ex.robertson_model(autoencoder=False, lipschitz=1.0, init_scale=10.0, hidden=6, ae_hidden=4, span=1.0)
    torch.manual_seed(0)
    ref = ex.robertson_model(autoencoder=False, lipschitz=1.0, init_scale=1.0, hidden=6, ae_hidden=4, span=1.0)
    for a, b in zip(model.nonlinear.linears, ref.nonlinear.linears, strict=True):
        assert torch.allclose(a.weight, 10.0 * b.weight)
    assert model.nonlinear.lipschitz_bound() <= 1.0 + 1e-9


def test_lipschitz_rule_on_constructed_results() -> None:
    good = ({"lipschitz/none_scale0.1": [{"final_train_loss": 0.05}],
                  "lipschitz/none_scale10": [{"final_train_loss": 0.4}],
                  "lipschitz/L1_scale0.1": [{"final_train_loss": 0.004}],
                  "lipschitz/L1_scale10": [{"final_train_loss": 0.005}]})
    assert al._judge_lipschitz(good).verdict == "reproduced"
    bad = dict(good)
    bad["lipschitz/L1_scale10"] = [{"final_train_loss": 0.5}]  # finite, but worse and more spread
    assert al._judge_lipschitz(bad).verdict == "partially reproduced"
    bad["lipschitz/L1_scale10"] = [{"final_train_loss": math.inf}]
    assert al._judge_lipschitz(bad).verdict == "not reproduced"
    with pytest.raises(KeyError):
        al._judge_lipschitz({"lipschitz/L1_scale1": [{"final_train_loss": 0.1}]})


def test_etd_and_ks_rules_on_constructed_results() -> None:
    res = {f"tg/{v}-{m}": [{"test_error_train_step": e, "test_error_small_step": e}] for v in al.TG_VARIANTS
           for m, e in zip(al.TG_METHODS, (0.01, 0.5), strict=True)}
    res.update({f"robertson/{m}": [{"test_rel_error": 0.02, "explicit_rk4_rel_error": math.inf}]
                for m in al.ROBERTSON_MODELS})
    assert al._judge_etd(res).verdict == "reproduced"
    res["robertson/autoencoder"] = [{"test_rel_error": 0.02, "explicit_rk4_rel_error": 0.03}]
    assert al._judge_etd(res).verdict == "partially reproduced"
    res["tg/growth-etd1"] = [{"test_error_train_step": 0.01, "test_error_small_step": 0.9}]
    assert al._judge_etd(res).verdict == "partially reproduced"
    ks = {"ks/full": [{"time_expmv_s": 10.0}],
          "ks/latent7": [{"time_expmv_s": 1.0, "hellinger": 0.1, "hellinger_truth_vs_truth": 0.05}]}
    assert al._judge_ks(ks).verdict == "reproduced"
    ks["ks/latent7"][0]["time_expmv_s"] = 8.0
    assert al._judge_ks(ks).verdict == "partially reproduced"


@pytest.mark.slow
def test_quick_mode_judges_every_claim_and_shows_the_directions(tmp_path: Path) -> None:
    assert main(["reproduce", "003", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    judged = {c["name"]: c["verdict"] for c in results["claims"]}
    assert "not judged" not in judged.values() and "not reproduced" not in judged.values()
    runs = {k.rsplit("/", 1)[0]: v["result"] for k, v in results["runs"].items()}
    # §5.1: deployed with a 10x smaller step, the ETD-trained decay model stays accurate, the IMEX one does not
    assert 5 * runs["tg/decay-etd1"]["test_error_small_step"] < runs["tg/decay-imex_ssp2"]["test_error_small_step"]
    # §5.2: explicit RK4 on the log-spaced steps fails for every trained model; the autoencoder helps
    assert all(not math.isfinite(r["explicit_rk4_rel_error"]) or r["explicit_rk4_rel_error"] > 1
               for k, r in runs.items() if k.startswith(("robertson/", "noise/")))
    assert runs["robertson/autoencoder"]["test_rel_error"] < runs["robertson/no_autoencoder"]["test_rel_error"]
    # §5.3: on the matrix-free path the latent models take cheaper steps than the full-space model
    for name in ("latent20", "latent7"):
        assert runs[f"ks/{name}"]["time_expmv_s"] < runs["ks/full"]["time_expmv_s"]
    assert "## Scaled down from the paper's settings" in (tmp_path / "report.md").read_text()
