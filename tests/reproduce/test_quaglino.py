"""``pysciml reproduce 004`` (Quaglino et al., SNODE, arXiv:1906.07038): smoke end to end, claims, quick (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pysciml.cli.main import main
from pysciml.reproduce import get_paper
from pysciml.reproduce.core import Verdict
from pysciml.reproduce.quaglino import MODE_CONFIGS, PAPER_TABLES, Quaglino


def _outputs(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    claims = json.loads((out / "claims.json").read_text())
    assert [c["name"] for c in claims] == [c.name for c in Quaglino.claims]
    for claim in Quaglino.claims:
        assert claim.rule in report
    for line in report.splitlines():
        if line.startswith("![") and "](" in line:
            assert (out / line.split("](")[1].rstrip(")")).is_file()
    return results


def test_smoke_004_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "r004"
    assert main(["reproduce", "004", "--smoke", "--out", str(out), "--no-progress"]) == 0
    results = _outputs(out)
    runs = {k: v["result"] for k, v in results["runs"].items()}
    config = MODE_CONFIGS["smoke"]
    assert set(runs) == {f"{g}/{m}/seed0" for g, ms in config["iterations"].items() for m in ms}
    for key, r in runs.items():
        group, method = key.split("/")[:2]
        assert r["iterations"] == config["iterations"][group][method] or r["status"].startswith("failed")
        assert r["ms_per_iteration"] > 0 and math.isfinite(r["initial_loss"]) and r["initial_loss"] > 0
        assert r["history"][0]["iteration"] == 0 and r["test_mse"] > 0
    # every method starts from the same weights on the same data: the same initial loss per group
    for group in config["iterations"]:
        first = {runs[k]["initial_loss"] for k in runs if k.startswith(group + "/")}
        assert len(first) == 1
    # δ-SNet takes no trajectory steps: far cheaper per iteration than an α-SNet iteration (10 + 10 steps)
    assert runs["vehicle_high/delta-SNet/seed0"]["ms_per_iteration"] < runs["vehicle_high/alpha-SNet/seed0"][
        "ms_per_iteration"]
    judged = {c["name"]: c["verdict"] for c in results["claims"]}
    assert judged["vehicle_low_data"] == "not judged"          # smoke has no low-data runs
    for name in ("vehicle_faster", "vehicle_test_mse", "alpha_generalises", "agents_increased_gains"):
        assert judged[name] in ("reproduced", "partially reproduced", "not reproduced")
    report = (out / "report.md").read_text()
    assert "| delta-SNet | 8.3 →" in report                    # the paper's Table 1a next to ours


def _run(ms: float, loss0: float, loss: float, test: float, status: str = "completed") -> dict:
    return {"ms_per_iteration": ms, "initial_loss": loss0, "final_loss": loss, "best_loss": loss, "test_mse": test,
            "status": status, "history": [{"iteration": 0, "time": 0.0, "loss": loss0},
                                          {"iteration": 10, "time": ms * 1e-2, "loss": loss}]}


def test_claim_rules_on_constructed_results() -> None:
    claims = {c.name: c for c in get_paper("004").claims}
    results = {"vehicle_high/delta-SNet": [_run(10, 100, 0.01, 0.1)],
               "vehicle_high/BKPR-DoPr5": [_run(1000, 100, 0.01, 0.3)],
               "vehicle_high/BKPR-Euler": [_run(100, 100, 0.05, 0.5)],
               "vehicle_high/alpha-SNet": [_run(100, 100, 0.01, 0.02)],
               "agents_gains/delta-SNet": [_run(10, 1, 0.05, 0.1)],
               "agents_gains/BKPR-Euler": [_run(100, 1, 0.9, 0.1)]}
    v = claims["vehicle_faster"].judge(results)
    assert isinstance(v, Verdict) and v.verdict == "reproduced" and "100×" in v.evidence
    assert claims["vehicle_test_mse"].judge(results).verdict == "reproduced"
    assert claims["alpha_generalises"].judge(results).verdict == "reproduced"
    assert claims["agents_increased_gains"].judge(results).verdict == "reproduced"
    results["agents_gains/BKPR-Euler"] = [_run(100, 1, 0.1, 0.1)]          # Euler learns: only one check holds
    assert claims["agents_increased_gains"].judge(results).verdict == "partially reproduced"
    results["vehicle_high/alpha-SNet"] = [_run(100, 100, 0.01, 5.0)]
    assert claims["alpha_generalises"].judge(results).verdict == "not reproduced"
    assert claims["vehicle_test_mse"].judge(results).verdict == "partially reproduced"
    with pytest.raises(KeyError):
        claims["agents_faster_better"].judge(results)


def test_paper_tables_transcribed() -> None:
    assert PAPER_TABLES["vehicle_high"]["delta-SNet"] == (8.3, 480, 0.011, 0.109)
    assert PAPER_TABLES["vehicle_low25"]["BKPR-Euler"] == (None, 1200, 0.643, 3.771)
    assert PAPER_TABLES["agents_high"]["alpha-SNet"] == (1999, 180, 0.12, 9.1e-5)
    assert PAPER_TABLES["agents_low20"]["BKPR-Euler"][2:] == (0.645, 1.6e-3)


# the directions our quick run shows (README "Reproducing the papers")
QUICK_REPRODUCED = ("vehicle_faster", "vehicle_test_mse", "agents_faster_better")


@pytest.mark.slow
def test_quick_mode_judges_every_claim(tmp_path: Path) -> None:
    assert main(["reproduce", "004", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    judged = {c["name"]: c["verdict"] for c in _outputs(tmp_path)["claims"]}
    assert "not judged" not in judged.values()
    for name in QUICK_REPRODUCED:
        assert judged[name] == "reproduced", (name, judged[name])
