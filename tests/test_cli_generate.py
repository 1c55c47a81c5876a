"""``pysciml generate`` options: --option for method options, --overwrite, default grids, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import pysciml
from pysciml.cli.main import main


def test_option_passes_method_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tb.h5"

    def args(dt: str, *extra: str) -> list[str]:
        return ["generate", "two_body", "--n", "2", "--t-span", "0", "1", "--num", "11", "--method", "RK4",
                "--option", f"dt={dt}", "--backend", "python", "--quiet", "--out", str(out), *extra]

    assert main(args("0.01")) == 0
    data = pysciml.load_dataset(out)
    assert data.meta["method"] == "RK4" and data.meta["generate_args"]["options"] == {"dt": 0.01}
    assert np.all(data.meta["steps"] == 100)
    before = out.read_bytes()
    assert main(args("0.01")) == 0  # the same command again: a no-op
    assert out.read_bytes() == before
    assert main(args("0.05")) == 2  # other options: refused, naming them
    err = capsys.readouterr().err
    assert re.search(r"options \(file: \{'dt': 0.01\}, now: \{'dt': 0.05\}\)", err), err
    assert out.read_bytes() == before
    assert main(args("0.05", "--overwrite")) == 0
    assert np.all(pysciml.load_dataset(out).meta["steps"] == 20)


def test_option_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["generate", "two_body", "--n", "1", "--method", "RK4", "--quiet", "--out", str(tmp_path / "x.h5")]
    assert main(base + ["--option", "dt"]) == 2
    assert "--option expects KEY=VALUE" in capsys.readouterr().err
    assert main(base + ["--option", "n_jobs=2"]) == 2
    assert "are generate arguments" in capsys.readouterr().err
    assert main(base) == 2
    assert "dt=" in capsys.readouterr().err


def test_default_grid_is_the_systems(tmp_path: Path) -> None:
    out = tmp_path / "rob.h5"
    assert main(["generate", "robertson", "--n", "1", "--num", "12", "--quiet", "--backend", "python",
                 "--out", str(out)]) == 0
    t = pysciml.load_dataset(out).t
    np.testing.assert_array_equal(t, pysciml.systems.get("robertson").default_t_eval(12))
