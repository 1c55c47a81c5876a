"""The paper-independent reproduction framework: caching and resume, claims written first, verdicts, report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pysciml.errors import UnknownNameError, ValidationError
from pysciml.reproduce import Claim, Paper, RunSpec, Verdict, count_verdict, get_paper, mean_std, reproduce


def _judge(results: Mapping[str, Any]) -> Verdict:
    value = mean_std([r["value"] for r in results["g/a"]])[0]
    return Verdict(count_verdict(int(value > 1), 0, 1), f"mean value {value:.3f}")


class ToyPaper(Paper):
    """Run result = seed + offset; counts executions and records whether claims.json existed at each one."""

    paper_id = "toy"
    title = "Toy paper"
    citation = "A. Author, Toy (2026)."
    claims = (Claim("big", "values exceed one", "mean value > 1 → reproduced", _judge),
              Claim("missing", "needs another group", "never judged", lambda r: Verdict("reproduced", r["h/x"])))
    known_differences = ("none at all",)

    def __init__(self, offset: float = 0.5) -> None:
        self.offset, self.executed, self.claims_first = offset, [], []

    def config(self, mode: str) -> dict[str, Any]:
        return {"seeds": [0, 1, 2], "offset": self.offset}

    def runs(self, config: Mapping[str, Any]) -> list[RunSpec]:
        return [RunSpec(f"g/a/seed{s}", "g", "a", s, {"offset": config["offset"]}) for s in config["seeds"]]

    def execute(self, run: RunSpec, config: Mapping[str, Any], out: Path) -> dict[str, Any]:
        self.executed.append(run.key)
        self.claims_first.append((out.parent / "claims.json").exists())
        if run.seed == 1 and getattr(self, "fail", False):
            raise RuntimeError("interrupted")
        return {"value": run.seed + config["offset"]}

    def estimate_seconds(self, run: RunSpec, config: Mapping[str, Any]) -> float:
        return 2.0

    def report_sections(self, results: Any, config: Mapping[str, Any], out: Path) -> list[str]:
        return ["## Toy table", "", f"values: {[r['value'] for r in results['g/a']]}", ""]


def test_report_results_and_verdicts(tmp_path: Path) -> None:
    paper = ToyPaper()
    report = reproduce(paper, "quick", out=tmp_path, progress=False, log=lambda s: None)
    text = report.read_text()
    assert "values: [0.5, 1.5, 2.5]" in text and "mean value > 1 → reproduced" in text and "none at all" in text
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["seeds"] == [0, 1, 2] and results["environment"]["torch"]
    verdicts = {c["name"]: c for c in results["claims"]}
    assert verdicts["big"]["verdict"] == "reproduced" and "1.500" in verdicts["big"]["evidence"]
    assert verdicts["missing"]["verdict"] == "not judged"
    assert all(paper.claims_first), "claims.json must be written before the first run"


def test_interrupted_run_resumes_with_finished_runs_kept(tmp_path: Path) -> None:
    paper = ToyPaper()
    paper.fail = True
    with pytest.raises(RuntimeError):
        reproduce(paper, "quick", out=tmp_path, progress=False, log=lambda s: None)
    assert paper.executed == ["g/a/seed0", "g/a/seed1"]
    paper.fail, paper.executed = False, []
    reproduce(paper, "quick", out=tmp_path, progress=False, log=lambda s: None)
    assert paper.executed == ["g/a/seed1", "g/a/seed2"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["wall_time_s"]["n_cached"] == 1
    # changed settings invalidate the cache; fewer seeds reuse the finished ones
    other = ToyPaper(offset=2.0)
    reproduce(other, "quick", out=tmp_path, progress=False, log=lambda s: None)
    assert len(other.executed) == 3
    again = ToyPaper(offset=2.0)
    reproduce(again, "quick", seeds=2, out=tmp_path, progress=False, log=lambda s: None)
    assert again.executed == []


def test_full_mode_prints_estimate_first(tmp_path: Path) -> None:
    lines: list[str] = []
    paper = ToyPaper()
    reproduce(paper, "full", out=tmp_path, progress=False, log=lines.append)
    assert lines[0].startswith("estimated wall time") and "6 s for 3 runs" in lines[0]


def test_count_verdict_and_mean_std() -> None:
    assert count_verdict(2, 0, 2) == "reproduced"
    assert count_verdict(0, 1, 2) == "partially reproduced" == count_verdict(1, 0, 2)
    assert count_verdict(0, 0, 2) == "not reproduced"
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert mean_std([4.0]) == (4.0, 0.0)
    with pytest.raises(ValidationError):
        Verdict("maybe", "")


def test_validation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="mode"):
        reproduce(ToyPaper(), "medium", out=tmp_path)
    with pytest.raises(ValidationError, match="seeds"):
        reproduce(ToyPaper(), "quick", seeds=0, out=tmp_path)
    with pytest.raises(UnknownNameError, match="available"):
        get_paper("007")
    assert get_paper("0").paper_id == "000" and get_paper("002").paper_id == "002"
