"""Entry point of the ``pysciml`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import PySciMLError
from . import backends_cmd, data_cmds, reproduce_cmd, train_cmd


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command (each has ``--help``)."""
    parser = argparse.ArgumentParser(prog="pysciml", description="Stable, stiff-aware neural ODEs: ground-truth "
                                     "data, differentiable solvers, stability-aware training.")
    parser.add_argument("--version", action="version", version=f"pysciml {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log backend choices and progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cmds.add_parsers(sub)
    backends_cmd.add_parser(sub)
    train_cmd.add_parser(sub)
    reproduce_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for usage/input errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except PySciMLError as exc:
        print(f"pysciml {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
