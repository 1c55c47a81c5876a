"""README's API example runs as pasted (in a temporary folder) and the numbers it promises hold."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    match = re.search(r"<!-- API-EXAMPLE[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no API-EXAMPLE block"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    sol, ys, out, stiff = namespace["sol"], namespace["ys"], namespace["out"], namespace["stiff"]
    assert sol.y.shape == (8, 51, 3) and sol.all_success
    assert ys.shape[1:] == (3, 4) and bool(out.success.all()) and bool(stiff.success.all())
    assert np.isfinite(stiff.ys.numpy()).all()
    assert os.path.exists(tmp_path / "out" / "readme" / "two_body.h5")
