"""Alvarez Loya et al. (arXiv:2503.01775) §5.1: with few observations and a large step, ETD learns better than
IMEX (slow)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transient_growth.py"


@pytest.mark.slow
def test_etd_beats_imex_at_large_step(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("transient_growth_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--out", str(tmp_path)])
    saved = json.loads((tmp_path / "errors.json").read_text())
    for variant in ("decay", "growth"):
        etd = saved[variant]["etd1"]["test_error_train_step"]
        assert etd == results[variant]["etd1"]["test_error_train_step"]
    # decay (the paper's clearer case): ETD beats IMEX at the training step and, decisively, deployed with a
    # smaller step; on growth both plateau at the same error (README), so nothing is asserted between them
    decay = saved["decay"]
    assert decay["etd1"]["test_error_train_step"] < decay["imex_ssp2"]["test_error_train_step"]
    assert 5 * decay["etd1"]["test_error_small_step"] < decay["imex_ssp2"]["test_error_small_step"]
