"""``pysciml reproduce PAPER``: rerun a paper's experiments and write a report beside the paper's numbers."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``reproduce`` sub-command on ``subparsers``."""
    p = subparsers.add_parser(
        "reproduce", help="reproduce a paper's tables and figures (000, 001, 002, 003, 004)",
        description="Run a paper's experiments and write OUT/report.md (the paper's tables with our numbers beside "
                    "them, mean ± std over seeds, figures, a verdict per headline claim judged by a rule fixed "
                    "before the run), OUT/results.json and OUT/figures/. Finished runs are cached in OUT/runs/, so "
                    "an interrupted command resumes. Papers: 000 = Josias & Brink, 'Jacobian Norm Regularisation "
                    "and Conditioning in Neural ODEs' (SACAIR 2022); 001 = Janvier, Salomon, Meunier, 'Jacobian "
                    "Regularization Stabilizes Long-Term Integration of Neural Differential Equations' "
                    "(arXiv:2602.04608); 002 = De Marinis et al., 'Stability of neural ordinary differential "
                    "equations' (arXiv:2402.13092, arXiv:2501.10740); 003 = Alvarez Loya et al., "
                    "'Structure-Preserving Neural ODEs for Stiff Systems' (arXiv:2503.01775); 004 = Quaglino et al., "
                    "'SNODE: Spectral Discretization of Neural ODEs for System Identification' (arXiv:1906.07038).")
    p.add_argument("paper", help="paper id: 000, 001, 002, 003 or 004")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="reduced epochs, data and seeds; minutes on 2 CPU cores (the default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the paper's settings; prints the estimated wall time first")
    mode.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                      help="a seconds-long pipeline check (numbers meaningless)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the mode's)")
    p.add_argument("--out", default=None, help="output folder (default: reproduce-PAPER-MODE)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run, mode="quick")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the reproduction; prints where the report is. Returns 0 on success."""
    from ..reproduce import run as reproduce

    reproduce(args.paper, args.mode, seeds=args.seeds, out=args.out, progress=not args.no_progress)
    return 0
