"""Fuzz-suite configuration: the harness modules on the path, and the outcome counts printed at the end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_harness import COUNTS, _reset_pool  # noqa: E402


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.section("pysciml fuzz outcome counts")
    for key, value in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{key:>32}: {value}")
    target = os.environ.get("PYSCIML_FUZZ_COUNTS")
    if target:
        Path(target).write_text(json.dumps(dict(COUNTS), indent=1, sort_keys=True) + "\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _reset_pool()
