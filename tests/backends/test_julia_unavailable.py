"""The julia backend where Julia is missing: a clear error, fast, without network; ``auto`` falls back.

These tests run on machines without Julia (ours). Where Julia is installed they are skipped, because the
unavailable path cannot be produced there without breaking the installation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import stat
import time
from pathlib import Path

import numpy as np
import pytest

import pysciml
from pysciml.backends import julia as jl
from pysciml.backends.registry import resolve_backend
from pysciml.cli import backends_cmd
from pysciml.errors import BackendUnavailableError, ValidationError

pytestmark = pytest.mark.skipif(jl.probe_julia().available, reason="Julia is installed on this machine")

T = np.array([0.0, 1.0])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every network attempt fail loudly (and record it)."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:2]))
        raise OSError("network access attempted during a test that must stay offline")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("PYTHON_JULIAPKG_OFFLINE", "yes")
    return attempts


def test_julia_backend_raises_clear_error_fast_and_offline(no_network: list[str]) -> None:
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        pysciml.solve("robertson", [1.0, 0.0, 0.0], T, method="Rodas5P", backend="julia")
    elapsed = time.monotonic() - start
    message = str(info.value)
    assert elapsed < 5.0, f"took {elapsed:.2f} s"
    assert "julia" in message and "pip install pysciml[julia]" in message
    assert "1.10" in message and "PYTHON_JULIACALL_EXE" in message and "PATH" in message
    assert no_network == []
    assert "juliacall" not in __import__("sys").modules  # the probe never imports juliacall


def test_get_worker_raises_without_starting_anything(no_network: list[str]) -> None:
    with pytest.raises(BackendUnavailableError, match="not available"):
        jl.get_worker()
    assert jl._WORKER is None and no_network == []


def test_auto_falls_back_to_python_and_logs(no_network: list[str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pysciml.backends"):
        backend = resolve_backend("auto", "Rodas5P")
    assert backend.name == "python"
    assert any("julia unavailable" in r.getMessage() for r in caplog.records)
    sol = pysciml.solve("robertson", [1.0, 0.0, 0.0], [0.0, 1.0], method="Radau", backend="auto")
    assert sol.backend == "python" and sol.all_success


def test_auto_with_a_julia_only_method_explains(no_network: list[str]) -> None:
    with pytest.raises(BackendUnavailableError, match="only in the julia backend"):
        resolve_backend("auto", "KenCarp4")


def _fake_julia(tmp_path: Path, version: str, other_exit: int = 0) -> str:
    """A shell script that answers ``--version`` like Julia; any other invocation prints and exits."""
    exe = tmp_path / "julia"
    exe.write_text(f"#!/bin/sh\ncase \"$*\" in *--version*) echo 'julia version {version}';;\n"
                   f"*) echo 'ERROR: fake julia cannot run code' >&2; exit {other_exit};; esac\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def test_explicit_executable_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_JULIACALL_EXE", str(tmp_path / "missing-julia"))
    monkeypatch.setenv("PYTHON_JULIACALL_PROJECT", str(tmp_path))
    probe = jl.probe_julia()
    assert not probe.available and "PYTHON_JULIACALL_EXE" in probe.reason
    assert "not an executable" in probe.reason
    monkeypatch.setenv("PYTHON_JULIACALL_EXE", _fake_julia(tmp_path, "1.9.4"))
    probe = jl.probe_julia()
    assert not probe.available and "older than 1.10" in probe.reason
    monkeypatch.delenv("PYTHON_JULIACALL_EXE")
    probe = jl.probe_julia()
    assert not probe.available
    assert "PYTHON_JULIACALL_PROJECT is set without PYTHON_JULIACALL_EXE" in probe.reason


def test_probe_accepts_a_recent_julia_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_julia(tmp_path, "1.11.2")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    probe = jl.probe_julia()
    assert probe.available and probe.version == "1.11.2" and probe.executable == str(tmp_path / "julia")


def test_a_broken_julia_fails_at_worker_start_with_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         no_network: list[str]) -> None:
    """A 'julia' that passes the version probe but cannot run juliacall: the worker reports, never hangs."""
    monkeypatch.setenv("PYTHON_JULIACALL_EXE", _fake_julia(tmp_path, "1.10.5"))
    monkeypatch.delenv("PYTHON_JULIACALL_PROJECT", raising=False)
    monkeypatch.setenv("PYSCIML_JULIA_PROJECT_DIR", str(tmp_path / "project"))
    monkeypatch.setenv("PYSCIML_JULIA_START_TIMEOUT", "60")
    monkeypatch.setattr(jl, "_START_FAILURE", None)
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="failed to start"):
        jl.get_worker()
    assert time.monotonic() - start < 30.0
    ok, reason = jl.JuliaBackend().availability()
    assert not ok and "failed to start" in reason  # remembered: auto will not pick the broken install
    assert (tmp_path / "project" / "Project.toml").is_file()  # writable copy of the bundled project
    assert (tmp_path / "project" / "src" / "PySciMLBackend.jl").is_file()
    pin = jl.juliacall_pythoncall_pin()  # the copy pins PythonCall to the installed juliacall's version
    assert pin and f'PythonCall = "{pin}"' in (tmp_path / "project" / "Project.toml").read_text()


def test_failed_project_instantiation_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 no_network: list[str]) -> None:
    monkeypatch.setenv("PYTHON_JULIACALL_EXE", _fake_julia(tmp_path, "1.10.5", other_exit=1))
    monkeypatch.delenv("PYTHON_JULIACALL_PROJECT", raising=False)
    monkeypatch.setenv("PYSCIML_JULIA_PROJECT_DIR", str(tmp_path / "project"))
    monkeypatch.setattr(jl, "_START_FAILURE", None)
    with pytest.raises(BackendUnavailableError, match="Pkg.instantiate failed.*fake julia cannot run code"):
        jl.get_worker()
    assert jl._WORKER is None


def test_sensitivity_validates_then_reports_unavailable(no_network: list[str]) -> None:
    t = np.linspace(0.0, 1.0, 5)
    with pytest.raises(ValidationError, match="data must have shape"):
        pysciml.sensitivity("rigid_body", [1.0, 0.0, 0.0], t, np.zeros((4, 3)))
    with pytest.raises(ValidationError, match="sensealg"):
        pysciml.sensitivity("rigid_body", [1.0, 0.0, 0.0], t, np.zeros((5, 3)), sensealg="Adjoint?")
    with pytest.raises(ValidationError, match="split problem"):
        pysciml.sensitivity("rigid_body", [1.0, 0.0, 0.0], t, np.zeros((5, 3)), method="ETDRK4")
    with pytest.raises(BackendUnavailableError, match="pip install pysciml\\[julia\\]"):
        pysciml.sensitivity("rigid_body", [1.0, 0.0, 0.0], t, np.zeros((5, 3)))


def test_julia_trajectory_validates_then_reports_unavailable(no_network: list[str]) -> None:
    import torch

    from pysciml.sensitivity import julia_trajectory

    t = np.linspace(0.0, 1.0, 5)
    with pytest.raises(ValidationError, match="theta must have shape \\[3\\]"):
        julia_trajectory("rigid_body", torch.ones(2), torch.ones(3), t)
    with pytest.raises(BackendUnavailableError):
        julia_trajectory("rigid_body", torch.tensor([1.6, 1.0, 2 / 3], requires_grad=True), torch.ones(3), t)


def test_backends_cli_lists_availability_reason_and_methods(no_network: list[str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="pysciml")
    backends_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backends"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "python: available" in out
    assert "julia: NOT available" in out and "pip install pysciml[julia]" in out
    assert "RadauIIA5" in out and "Radau" in out and "ETDRK4" in out
    args = parser.parse_args(["backends", "--json"])
    assert args.func(args) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["python"]["available"] is True and rows["julia"]["available"] is False
    assert "Rodas5P" in rows["julia"]["methods"] and rows["julia"]["reason"]
