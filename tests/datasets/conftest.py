"""Fixtures of the dataset tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from mnist_files import make_idx_dir


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    return make_idx_dir(tmp_path / "idx")
