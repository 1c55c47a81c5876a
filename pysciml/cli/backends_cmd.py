"""``pysciml backends``: the ground-truth backends, whether each is available (and why not), their methods."""

from __future__ import annotations

import argparse
import json

from ..backends.julia import JULIA_METHODS
from ..backends.registry import backend_table


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``backends`` sub-command on ``subparsers``."""
    parser = subparsers.add_parser("backends", help="list solver backends, their availability and methods",
                                   description="List the ground-truth backends (python, julia): whether "
                                   "each is available here, why not, and the methods it offers.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the backend table; returns 0 (an unavailable optional backend is not an error)."""
    rows = backend_table()
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "available" if row["available"] else "NOT available"
        print(f"{row['name']}: {state} - {row['reason']}")
        methods = list(row["methods"])  # type: ignore[call-overload]
        if row["name"] == "julia":
            print("  methods (python-backend equivalent):")
            for name in methods:
                equivalent = JULIA_METHODS[name].python_equivalent or "-"
                print(f"    {name:<14} {JULIA_METHODS[name].family:<24} {equivalent}")
        else:
            print(f"  methods: {', '.join(methods)}")
    return 0
