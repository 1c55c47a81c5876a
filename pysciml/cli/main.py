"""Entry point of the ``pysciml`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from .. import __version__
from ..errors import PySciMLError
from . import backends_cmd, data_cmds, evaluate_cmd, reproduce_cmd, study_cmd, train_cmd

#: Environment variable that, set to a non-empty value other than ``0``, shows tracebacks like ``--debug``.
DEBUG_ENV = "PYSCIML_DEBUG"

#: Exit codes: 2 for usage/input errors (a :class:`PySciMLError`), 1 for any other failure, 130 on Ctrl-C.
EXIT_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED = 2, 1, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command (each has ``--help``)."""
    parser = argparse.ArgumentParser(prog="pysciml", description="Stable, stiff-aware neural ODEs: ground-truth "
                                     "data, differentiable solvers, stability-aware training.")
    parser.add_argument("--version", action="version", version=f"pysciml {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log backend choices and progress details")
    parser.add_argument("--debug", action="store_true", help=f"show the Python traceback of an unexpected error "
                        f"(same as {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cmds.add_parsers(sub)
    backends_cmd.add_parser(sub)
    train_cmd.add_parser(sub)
    evaluate_cmd.add_parser(sub)
    study_cmd.add_parser(sub)
    reproduce_cmd.add_parser(sub)
    return parser


def _debug_requested(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code.

    Every failure ends in a one-line message on stderr and a non-zero code, never a traceback: 2 for usage and
    input errors (argparse's own errors exit 2 as well), 1 for anything else (files that cannot be read or
    written, an unexpected internal error), 130 when interrupted. ``--debug`` (or ``PYSCIML_DEBUG=1``) adds the
    traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT
    prefix = f"pysciml {args.command}"
    try:
        return int(args.func(args))
    except PySciMLError as exc:
        _report(args, f"{prefix}: error: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _report(args, f"{prefix}: interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        _report(args, f"{prefix}: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILURE
    except MemoryError:
        _report(args, f"{prefix}: error: out of memory; use a smaller problem (fewer samples or time points)")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: a message, never a traceback
        _report(args, f"{prefix}: internal error: {type(exc).__name__}: {exc} (rerun with --debug or "
                f"{DEBUG_ENV}=1 for the traceback, and please report it)")
        return EXIT_FAILURE


def _report(args: argparse.Namespace, message: str) -> None:
    """Print ``message`` to stderr, preceded by the active exception's traceback in debug mode."""
    if _debug_requested(args):
        traceback.print_exc(file=sys.stderr)
    print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
