"""``pysciml systems``, ``pysciml generate``, ``pysciml info`` and ``pysciml demo``."""

from __future__ import annotations

import argparse
import inspect
import json

import numpy as np

from .. import systems
from ..errors import ValidationError
from ..validation import check_time_grid


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the data commands on the top-level sub-parser collection."""
    p = sub.add_parser("systems", help="list the systems of the catalogue",
                       description="List the catalogue's systems with their dimension and parameters.")
    p.set_defaults(func=cmd_systems)

    p = sub.add_parser("generate", help="solve a system and write an HDF5 dataset",
                       description="Solve N trajectories of a catalogue system from the paper's initial-condition "
                       "sampling and write an HDF5 dataset (resumable: re-run the same command after a crash).")
    p.add_argument("system", help="system name (see `pysciml systems`)")
    p.add_argument("--n", type=int, default=16, help="number of trajectories (default 16)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--t-span", nargs=2, type=float, metavar=("T0", "T1"), help="time span (with --num)")
    g.add_argument("--t-eval", type=str, help="comma-separated output times, strictly increasing")
    p.add_argument("--num", type=int, default=101, help="number of output times (default 101); without --t-span the "
                   "system's default grid (log-spaced for robertson)")
    p.add_argument("--log", action="store_true", help="log-spaced outputs in --t-span (T0 > 0; t=0 prepended)")
    p.add_argument("--method", default="Radau", help="solver (default Radau); see `pysciml backends`")
    p.add_argument("--backend", default="auto", help="python, julia or auto (default)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance (default 1e-8)")
    p.add_argument("--atol", type=float, default=1e-10, help="absolute tolerance (default 1e-10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial-condition sampling")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes (or LocalCluster workers with "
                   "--scheduler local); each runs one compute thread")
    p.add_argument("--chunk-size", type=int, default=64, help="trajectories per chunk: the unit of resumption and of "
                   "distributed work (default 64)")
    p.add_argument("--scheduler", default=None, help="run the chunks on Dask: 'local' (a LocalCluster of --n-jobs "
                   "workers) or a scheduler address such as tcp://host:8786 (needs pip install 'pysciml[dask]')")
    add_option_argument(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset made with other arguments "
                   "(re-running the same command on a complete file does nothing)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="system parameter (repeatable), e.g. --param preset=lpsda")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("info", help="describe an HDF5 dataset", description="Validate and summarise a dataset file.")
    p.add_argument("file", help="HDF5 file written by `pysciml generate`")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="run the quick start", description="Generate a small Robertson dataset with a "
                       "stiff solver, plot it, then train a structure-preserving NODE with an exponential "
                       "integrator on it and plot prediction vs truth (a few minutes on 2 cores).")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--n", type=int, default=32, help="number of trajectories (default 32)")
    p.add_argument("--method", default="Radau", help="stiff solver (default Radau)")
    p.add_argument("--epochs", type=int, default=300, help="NODE training epochs (default 300; 0 skips training)")
    p.set_defaults(func=cmd_demo)


def _parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_option_argument(p: argparse.ArgumentParser) -> None:
    """``--option KEY=VALUE`` (repeatable): method options such as ``dt`` (values parsed as JSON when possible)."""
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="solver/method option (repeatable), e.g. --option dt=0.05 for ETDRK4/RK4, "
                   "--option first_step=1e-8 for SciPy; values are JSON (numbers, true/false) or strings")


def parse_key_values(items: list[str], flag: str) -> dict[str, object]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}``; raises ValidationError naming ``flag`` for a malformed item."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def t_eval_from_args(args: argparse.Namespace, system: systems.System) -> np.ndarray:
    """Output times from ``--t-eval``, ``--t-span/--num/--log`` or the system's default grid."""
    if args.t_eval:
        try:
            values = [float(v) for v in args.t_eval.split(",")]
        except ValueError as exc:
            raise ValidationError(f"--t-eval must be comma-separated numbers, got {args.t_eval!r}") from exc
        return check_time_grid(values, "--t-eval")
    if args.num < 2:
        raise ValidationError(f"--num must be >= 2, got {args.num}")
    if not args.t_span:
        if args.log:
            raise ValidationError("--log needs --t-span T0 T1 with T0 > 0")
        return system.default_t_eval(args.num)
    t0, t1 = args.t_span
    if args.log:
        if t0 <= 0:
            raise ValidationError("--log needs T0 > 0 (t=0 is prepended automatically)")
        return check_time_grid(np.concatenate([[0.0], np.geomspace(t0, t1, args.num)]), "--t-span")
    return check_time_grid(np.linspace(t0, t1, args.num), "--t-span")


def cmd_systems(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    for name in systems.available():
        system = systems.get(name)
        params = ", ".join(f"{k}={v}" for k, v in system.params.to_dict().items())
        flags = [f for f, on in (("stiff", system.stiff), ("semilinear", system.semilinear)) if on]
        print(f"{name:<22} dim={system.dim:<4} {' '.join(flags):<18} {params}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate a dataset."""
    from ..data import generate

    system = systems.get(args.system, **parse_key_values(args.param, "--param"))
    t_eval = t_eval_from_args(args, system)
    options = parse_key_values(args.option, "--option")
    reserved = sorted(set(options) & set(inspect.signature(generate).parameters))
    if reserved:
        raise ValidationError(f"--option {reserved} are generate arguments, not method options; use their own flags")
    data = generate(system, args.n, t_eval, args.out, method=args.method, rtol=args.rtol, atol=args.atol,
                    seed=args.seed, backend=args.backend, n_jobs=args.n_jobs, chunk_size=args.chunk_size,
                    progress=not args.quiet, overwrite=args.overwrite, scheduler=args.scheduler, **options)
    ok = int(np.sum(data.status == 0))
    print(f"wrote {args.out}: {data.n} trajectories x {data.t.size} times x {data.dim} states; "
          f"{ok}/{data.n} successful; {data.meta['method']} ({data.meta['backend']})")
    return 0 if ok == data.n else 3


def cmd_info(args: argparse.Namespace) -> int:
    """Print a dataset summary."""
    from ..data import load_dataset
    from ..status import Status

    data = load_dataset(args.file)
    m = data.meta
    print(f"file:        {args.file}")
    print(f"system:      {m['system']} {m['system_params']}")
    print(f"shape:       {data.n} trajectories x {data.t.size} times x {data.dim} states "
          f"(t from {data.t[0]:g} to {data.t[-1]:g})")
    print(f"solver:      {m['method']} ({m['backend']} backend), rtol={m['rtol']:g}, atol={m['atol']}")
    counts = {Status(int(s)).name.lower(): int(np.sum(data.status == s)) for s in np.unique(data.status)}
    print(f"status:      {counts}")
    print(f"seed:        {m['seed']}; created {m['created']} by pysciml {m['pysciml_version']}")
    checked = "per-trajectory checksums verified" if m["format_version"] >= 2 else "format 1: no checksums"
    print(f"integrity:   {checked}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the quick start."""
    from ..demo import run_demo

    run_demo(args.out, n=args.n, method=args.method, epochs=args.epochs)
    return 0
