"""Regression tests of issue 18 for the CLI: every failure is a one-line message and a non-zero exit code,
never a traceback (unless asked for with --debug or PYSCIML_DEBUG)."""

from __future__ import annotations

import argparse

import pytest

from pysciml.cli import main as cli_main
from pysciml.errors import ValidationError


def _failing(exc: BaseException) -> None:
    def run(args: argparse.Namespace) -> int:
        raise exc

    return run


@pytest.mark.parametrize(("exc", "code", "text"), [
    (ValidationError("n must be >= 1"), 2, "error: n must be >= 1"),
    (PermissionError(13, "Permission denied", "/root/x.h5"), 1, "error: Permission denied: /root/x.h5"),
    (ZeroDivisionError("division by zero"), 1, "internal error: ZeroDivisionError: division by zero"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (MemoryError(), 1, "out of memory"),
])
def test_main_turns_every_exception_into_a_message(exc: BaseException, code: int, text: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(cli_main.DEBUG_ENV, raising=False)
    monkeypatch.setattr(cli_main.backends_cmd, "run", _failing(exc))
    assert cli_main.main(["backends"]) == code
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
    assert err.startswith("pysciml backends: ")


def test_debug_switch_and_environment_show_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_main.backends_cmd, "run", _failing(ZeroDivisionError("boom")))
    monkeypatch.delenv(cli_main.DEBUG_ENV, raising=False)
    assert cli_main.main(["--debug", "backends"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: boom" in err
    monkeypatch.setenv(cli_main.DEBUG_ENV, "1")
    assert cli_main.main(["backends"]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv(cli_main.DEBUG_ENV, "0")
    assert cli_main.main(["backends"]) == 1
    assert "Traceback" not in capsys.readouterr().err
