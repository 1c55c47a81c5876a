"""The paper-independent part of ``pysciml reproduce``: run specs, claims, per-run caching, results and report.

A paper (:class:`Paper`) lists its runs for a configuration (one run = one model trained with one seed on one
setting), executes one run into a JSON-able dict, turns the finished runs into markdown tables and figures,
and carries its headline :class:`Claim` s, each with a rule fixed in code before anything runs.

:func:`reproduce` drives a paper: it writes ``claims.json`` (the rules) first, then executes every run not
already cached under ``OUT/runs/`` (a cached run is reused only when its settings hash matches, so an
interrupted run resumes with its finished runs kept), then writes ``results.json`` (settings, seeds,
versions, wall times, per-run results, verdicts) and ``report.md`` atomically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import platform
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..io import atomic_path

__all__ = ["MODES", "Claim", "Paper", "RunSpec", "Verdict", "count_verdict", "environment", "mean_std", "reproduce"]

MODES = ("smoke", "quick", "full")
VERDICTS = ("reproduced", "partially reproduced", "not reproduced")


@dataclass(frozen=True)
class RunSpec:
    """One training run: a unique file-safe ``key`` (``group/variant/seedN``), its table ``group``, the
    ``variant`` (e.g. the regulariser), the ``seed`` and the JSON-able ``params`` it needs."""

    key: str
    group: str
    variant: str
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)

    def settings_hash(self) -> str:
        """Hash of everything that determines the run's result (a cached result is reused only on a match)."""
        blob = json.dumps({"key": self.key, "seed": self.seed, "params": self.params}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Verdict:
    """A judged claim: ``verdict`` is one of ``reproduced``, ``partially reproduced``, ``not reproduced``."""

    verdict: str
    evidence: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValidationError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


Results = Mapping[str, Sequence[Mapping[str, Any]]]
"""Finished runs grouped as ``{"group/variant": [result of each seed, ...]}``."""


@dataclass(frozen=True)
class Claim:
    """A headline claim of a paper with the rule that judges it, written before any run.

    ``judge(results)`` returns a :class:`Verdict` from the grouped results (see :data:`Results`); it may
    raise ``KeyError`` when the configuration lacks a group it needs, which the report states.
    """

    name: str
    statement: str
    rule: str
    judge: Callable[[Results], Verdict]


class Paper(ABC):
    """One paper's experiments. Subclasses set ``paper_id``, ``title``, ``citation``, ``claims``,
    ``known_differences``, ``mode_configs`` and implement the abstract methods."""

    paper_id: str = ""
    title: str = ""
    citation: str = ""
    claims: tuple[Claim, ...] = ()
    known_differences: tuple[str, ...] = ()
    #: settings per mode (smoke / quick / full), each a JSON-able dict with at least ``seeds``
    mode_configs: Mapping[str, Mapping[str, Any]] = {}

    def config(self, mode: str) -> dict[str, Any]:
        """Settings of ``mode`` (a deep copy of ``mode_configs[mode]``, free to modify)."""
        return copy.deepcopy(dict(self.mode_configs[mode]))

    @abstractmethod
    def runs(self, config: Mapping[str, Any]) -> list[RunSpec]:
        """Every run of the configuration."""

    @abstractmethod
    def execute(self, run: RunSpec, config: Mapping[str, Any], out: Path) -> dict[str, Any]:
        """Train and evaluate one run; returns its JSON-able result (``out`` may receive run files)."""

    @abstractmethod
    def estimate_seconds(self, run: RunSpec, config: Mapping[str, Any]) -> float:
        """Estimated wall time of one run on this machine (from a short timed calibration)."""

    @abstractmethod
    def report_sections(self, results: Results, config: Mapping[str, Any], out: Path) -> list[str]:
        """Markdown sections (tables with the paper's numbers next to ours, figure links); writes figures."""


def count_verdict(n_ok: int, n_partial: int, n: int) -> str:
    """``reproduced`` when all ``n`` checks hold, ``partially reproduced`` when some hold or hold partly
    (``n_ok + n_partial > 0``), else ``not reproduced``."""
    if n_ok == n:
        return VERDICTS[0]
    return VERDICTS[1] if n_ok + n_partial > 0 else VERDICTS[2]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value) of finite ``values``."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every reproduction."""
    import torch

    from .. import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"pysciml": __version__, "git_commit": commit, "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "platform": platform.platform(),
            "torch_threads": torch.get_num_threads()}


def _write_json(path: Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _load_cached(path: Path, run: RunSpec) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload if payload.get("settings_hash") == run.settings_hash() else None


def grouped(runs: Sequence[RunSpec], payloads: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict]]:
    """``{"group/variant": [result per seed in seed order]}`` from the per-run payloads."""
    out: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (r.group, r.variant, r.seed)):
        out.setdefault(f"{run.group}/{run.variant}", []).append(payloads[run.key]["result"])
    return out


def _judge(claims: Sequence[Claim], results: Results) -> list[dict[str, str]]:
    judged = []
    for claim in claims:
        try:
            v = claim.judge(results)
            verdict, evidence = v.verdict, v.evidence
        except KeyError as exc:
            verdict, evidence = "not judged", f"this configuration has no runs for {exc} (see the mode's settings)"
        judged.append({"name": claim.name, "statement": claim.statement, "rule": claim.rule, "verdict": verdict,
                       "evidence": evidence})
    return judged


def _fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h")


def estimate(paper: Paper, config: Mapping[str, Any]) -> float:
    """Estimated wall time (seconds) of all runs of ``config``: one calibration per distinct (group, variant)."""
    per_kind: dict[tuple[str, str], float] = {}
    total = 0.0
    for run in paper.runs(config):
        kind = (run.group, run.variant)
        if kind not in per_kind:
            per_kind[kind] = paper.estimate_seconds(run, config)
        total += per_kind[kind]
    return total


def _report(paper: Paper, mode: str, config: Mapping[str, Any], results: Results, judged: list[dict[str, str]],
            env: Mapping[str, Any], wall: Mapping[str, float], out: Path) -> str:
    lines = [f"# Reproduction: {paper.title}", "", f"{paper.citation}", "",
             f"Mode: **{mode}**" + ("" if mode == "full" else
                                    " — reduced epochs, data and seeds (the settings below); the numbers show the "
                                    "direction of the effects, not the paper's precision."),
             f"Seeds: {list(config['seeds'])}. Wall time: {_fmt_seconds(wall['total'])} in total, "
             f"{_fmt_seconds(wall['computed'])} computed in this invocation "
             f"({wall['n_cached']} of {wall['n_runs']} runs reused from the cache).", "",
             "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), "",
             "Settings:", "", "```json", json.dumps(config, indent=1, default=str), "```", ""]
    lines += paper.report_sections(results, config, out)
    lines += ["## Verdicts on the headline claims", "",
              "Each rule was fixed in code (and written to `claims.json`) before the runs.", "",
              "| claim | rule | verdict | evidence |", "|---|---|---|---|"]
    for c in judged:
        lines.append(f"| {c['statement']} | {c['rule']} | **{c['verdict']}** | {c['evidence']} |")
    lines += ["", "## Known differences from the paper", ""] + [f"- {d}" for d in paper.known_differences]
    return "\n".join(lines) + "\n"


def reproduce(paper: Paper, mode: str = "quick", *, seeds: int | None = None, out: str | Path | None = None,
              progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Run (or resume) ``paper``'s experiments in ``mode`` and write ``report.md``; returns its path.

    Args:
        paper: the :class:`Paper`.
        mode: ``smoke`` (seconds; a test of the pipeline), ``quick`` (minutes, reduced) or ``full`` (the
            paper's settings; its estimated wall time is printed first).
        seeds: number of seeds (default: the mode's); seeds are ``0 .. seeds-1``.
        out: output folder (default ``reproduce-<paper_id>-<mode>``); holds ``claims.json``, ``runs/*.json``
            (the cache), ``results.json``, ``report.md`` and ``figures/``.
        progress: a tqdm bar over the runs.
        log: where progress lines go.
    """
    from tqdm.auto import tqdm

    if mode not in MODES:
        raise ValidationError(f"mode must be one of {MODES}, got {mode!r}")
    config = paper.config(mode)
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValidationError(f"seeds must be a positive integer, got {seeds!r}")
        config["seeds"] = list(range(seeds))
    out_dir = Path(out) if out is not None else Path(f"reproduce-{paper.paper_id}-{mode}")
    runs = paper.runs(config)
    if len({r.key for r in runs}) != len(runs):
        raise ValidationError(f"paper {paper.paper_id} lists duplicate run keys")
    if mode == "full":
        log(f"estimated wall time of the full run on this machine: "
            f"{_fmt_seconds(estimate(paper, config))} for {len(runs)} runs (calibrated now; cached runs are skipped)")
    _write_json(out_dir / "claims.json", [{"name": c.name, "statement": c.statement, "rule": c.rule}
                                          for c in paper.claims])
    start, payloads, n_cached, computed = time.perf_counter(), {}, 0, 0.0
    for run in tqdm(runs, desc=f"reproduce {paper.paper_id} ({mode})", unit="run", disable=not progress):
        path = out_dir / "runs" / f"{run.key.replace('/', '__')}.json"
        cached = _load_cached(path, run)
        if cached is not None:
            payloads[run.key] = cached
            n_cached += 1
            continue
        t0 = time.perf_counter()
        result = paper.execute(run, config, out_dir / "runs")
        payload = {"key": run.key, "settings_hash": run.settings_hash(), "seed": run.seed, "params": run.params,
                   "wall_s": time.perf_counter() - t0, "result": result}
        _write_json(path, payload)
        payloads[run.key] = payload
        computed += payload["wall_s"]
    results = grouped(runs, payloads)
    judged = _judge(paper.claims, results)
    env = environment()
    wall = {"total": sum(p["wall_s"] for p in payloads.values()), "computed": computed,
            "invocation": time.perf_counter() - start, "n_runs": len(runs), "n_cached": n_cached}
    report = _report(paper, mode, config, results, judged, env, wall, out_dir)
    _write_json(out_dir / "results.json", {
        "paper": paper.paper_id, "title": paper.title, "mode": mode, "config": config, "environment": env,
        "wall_time_s": wall, "claims": judged, "runs": payloads})
    with atomic_path(out_dir / "report.md") as tmp:
        tmp.write_text(report)
    log(f"report: {out_dir / 'report.md'}")
    return out_dir / "report.md"
