"""``pysciml study``: work-precision tables and diagrams; error falls with the tolerance for every method."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pysciml.cli.main import main
from pysciml.errors import ValidationError
from pysciml.study import DEFAULT_METHODS, component_scaled_error, work_precision


@pytest.fixture
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_robertson_study_cli_table_monotone_and_diagram(tmp_path: Path, one_torch_thread,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    code = main(["study", "robertson", "--n", "2", "--num", "20", "--tolerances", "1e-4,1e-6,1e-8",
                 "--out", str(out)])
    assert code == 0
    table = json.loads((out / "work_precision.json").read_text())
    png = (out / "work_precision.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    methods = {r["method"] for r in table["rows"]}
    assert methods == set(DEFAULT_METHODS)
    for method in methods:
        rows = sorted((r for r in table["rows"] if r["method"] == method), key=lambda r: -r["rtol"])
        assert [r["rtol"] for r in rows] == [1e-4, 1e-6, 1e-8]
        errors = [r["error"] for r in rows]
        assert all(r["success"] for r in rows)
        assert errors[0] > errors[1] > errors[2], (method, errors)  # error decreases with the tolerance
        assert rows[0]["mean_nfev"] < rows[2]["mean_nfev"] and rows[0]["mean_steps"] < rows[2]["mean_steps"]
        assert errors[2] < 1e-4  # and is measured against a reference far tighter than the sweep
    assert "Radau" in capsys.readouterr().out


def test_component_scaled_error_exact() -> None:
    ref = np.zeros((1, 3, 2))
    ref[0, :, 0] = [1.0, 2.0, 4.0]
    ref[0, :, 1] = [0.0, 1e-5, 2e-5]
    y = ref.copy()
    y[0, 2, 1] += 1e-6  # 5% of the small component's scale 2e-5
    y[0, 0, 0] += 1.0  # the initial output is not an error
    assert component_scaled_error(y, ref) == pytest.approx(0.05)
    y[0, 1, 0] = np.nan
    assert component_scaled_error(y, ref) == np.inf


def test_study_validates_arguments() -> None:
    with pytest.raises(ValidationError, match="methods"):
        work_precision("robertson", "Radau")
    with pytest.raises(ValidationError, match="tolerances"):
        work_precision("robertson", ["Radau"], [-1.0])
