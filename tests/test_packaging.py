"""The built wheel ships the Julia project inside the package (slow: builds a wheel)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_julia_project_and_py_typed(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True)
    (wheel,) = tmp_path.glob("pysciml-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    julia_files = {f"pysciml/julia/{p.relative_to(ROOT / 'julia').as_posix()}"
                   for p in (ROOT / "julia").rglob("*") if p.is_file()}
    assert julia_files and julia_files <= names, sorted(julia_files - names)
    assert "pysciml/py.typed" in names
    assert not any(n.endswith("juliapkg.json") for n in names)
