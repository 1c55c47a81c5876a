"""Fuzz-suite configuration: the harness modules on the path, and the outcome counts printed at the end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_harness import COUNTS, OWNED_DEFECTS, _reset_pool  # noqa: E402


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section("pysciml fuzz outcome counts")
    for key, value in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{key:>32}: {value}")
    for owner, message in sorted(OWNED_DEFECTS.items()):
        terminalreporter.write_line(f"first defect owned by {owner}: {message}")
    target = os.environ.get("PYSCIML_FUZZ_COUNTS")
    if target:
        Path(target).write_text(json.dumps({"counts": dict(COUNTS), "owned_defects": OWNED_DEFECTS}, indent=1,
                                           sort_keys=True) + "\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _reset_pool()
