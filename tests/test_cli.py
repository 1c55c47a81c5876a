"""The ``pysciml`` command line: --help everywhere, generate/info round trip, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysciml.cli.main import build_parser, main


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(sub.choices)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands()
    assert {"systems", "generate", "info", "demo", "backends", "train"} <= set(commands)
    for cmd in [None, *commands]:
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"] if cmd else ["--help"])
        assert info.value.code == 0
        assert "usage: pysciml" in capsys.readouterr().out


def test_generate_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.h5"
    code = main(["generate", "robertson", "--n", "2", "--t-span", "1e-3", "10", "--num", "5", "--log",
                 "--backend", "python", "--out", str(out)])
    assert code == 0 and out.exists()
    assert "2/2 successful" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "robertson" in text and "2 trajectories x 6 times x 3 states" in text


def test_errors_exit_2_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["generate", "nosuch", "--out", str(tmp_path / "x.h5")]) == 2
    assert "valid choices" in capsys.readouterr().err


def test_demo_generates_trains_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A shortened demo (4 trajectories, 15 epochs): every file is written and training lowers the loss."""
    import json

    assert main(["demo", "--out", str(tmp_path), "--n", "4", "--epochs", "15"]) == 0
    text = capsys.readouterr().out
    assert "structure-preserving NODE" in text and "learned_A_eigenvalues" in text
    for name in ("robertson.h5", "robertson.png", "robertson_node.png", "train/metrics.jsonl",
                 "train/checkpoint.pt", "train/loss_curve.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    history = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 15 and history[-1]["train_loss"] < history[0]["train_loss"]
