"""``pysciml study SYSTEM``: a work-precision study (error vs cost over a tolerance sweep)."""

from __future__ import annotations

import argparse

from ..errors import ValidationError


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ValidationError(f"{flag} must be comma-separated numbers, got {text!r}") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``study`` sub-command."""
    from ..study import DEFAULT_METHODS

    p = sub.add_parser("study", help="work-precision study of solvers on a system",
                       description="Run every method over a tolerance sweep on N trajectories of SYSTEM, measure the "
                       "error against a tight reference and the cost (CPU time, steps, f evaluations), and write "
                       "work_precision.json and the log-log work-precision diagram work_precision.png to --out.")
    p.add_argument("system", help="system name (see `pysciml systems`)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help=f"comma-separated methods (default {','.join(DEFAULT_METHODS)}); julia methods run when "
                   "Julia is installed")
    p.add_argument("--tolerances", default="1e-4,1e-6,1e-8", help="comma-separated rtol values (default "
                   "1e-4,1e-6,1e-8)")
    p.add_argument("--atol-ratio", type=float, default=1e-3, help="atol = ratio * rtol (default 1e-3)")
    p.add_argument("--n", type=int, default=8, help="number of trajectories (default 8)")
    p.add_argument("--num", type=int, default=101, help="number of output times on the system's default grid")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial-condition sampling")
    p.add_argument("--reference-method", default="Radau", help="method of the reference solution (default Radau)")
    p.add_argument("--reference-rtol", type=float, default=1e-12, help="rtol of the reference (default 1e-12)")
    p.add_argument("--reference-atol", type=float, default=1e-16, help="atol of the reference (default 1e-16)")
    p.add_argument("--backend", default="auto", help="python, julia or auto (default)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="system parameter (repeatable)")
    p.add_argument("--out", default="out/study", help="output folder (default out/study)")
    p.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> int:
    """Run the study and print its table."""
    from .. import systems
    from ..study import save_study, work_precision
    from .data_cmds import parse_key_values

    system = systems.get(args.system, **parse_key_values(args.param, "--param"))
    if args.num < 2:
        raise ValidationError(f"--num must be >= 2, got {args.num}")
    result = work_precision(system, [m.strip() for m in args.methods.split(",") if m.strip()],
                            _floats(args.tolerances, "--tolerances"), n=args.n, t_eval=system.default_t_eval(args.num),
                            seed=args.seed, atol_ratio=args.atol_ratio, reference_method=args.reference_method,
                            reference_rtol=args.reference_rtol, reference_atol=args.reference_atol,
                            backend=args.backend, progress=True)
    print(f"{'method':<14} {'rtol':>8} {'error':>10} {'cpu [s]':>9} {'steps':>9} {'nfev':>9}  ok")
    for r in result["rows"]:
        print(f"{r['method']:<14} {r['rtol']:8.0e} {r['error']:10.2e} {r['cpu_s']:9.3f} {r['mean_steps']:9.1f} "
              f"{r['mean_nfev']:9.1f}  {'yes' if r['success'] else 'NO'}")
    table, figure = save_study(result, args.out)
    print(f"wrote {table} and {figure}")
    return 0
