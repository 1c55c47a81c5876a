"""Work-precision studies: error against a tight reference vs cost, per method, over a tolerance sweep.

For a catalogue system, ``n`` initial states and output times ``t_eval``, every method in ``methods`` is run at
every ``rtol`` in ``tolerances`` (``atol = atol_ratio · rtol``) and compared with a reference solution
(``reference_method`` at ``reference_rtol``, ``atol = reference_atol``). The error of a run is

    error = max over trajectories, outputs t_k (k ≥ 1) and components c of |y_c(t_k) - y_c^ref(t_k)| / s_c,

with the component scale ``s_c = max_{trajectories, k} |y_c^ref(t_k)|`` (so that a component of size 1e-5, like
Robertson's y2, is measured relative to its own size). Cost: CPU seconds of the solve (``time.process_time``,
all threads), wall seconds, and the mean number of accepted steps and right-hand-side evaluations per
trajectory (each method is warmed up once on one trajectory first). The diagram is error vs CPU time on
log-log axes, one line per method, as the work-precision diagrams of DiffEqDevTools.jl (``WorkPrecisionSet``) draw them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ValidationError
from .ground_truth import solve
from .io import atomic_path
from .systems import get as get_system
from .systems.base import System
from .validation import check_positive_int, check_time_grid, check_tolerance

#: Methods studied by default: the python backend's stiff solvers.
DEFAULT_METHODS = ("Radau", "BDF", "LSODA", "Rodas5P", "Rodas4", "Rosenbrock23")


@dataclasses.dataclass
class StudyRow:
    """One (method, tolerance) point of a work-precision study."""

    method: str
    backend: str
    rtol: float
    atol: float
    error: float
    cpu_s: float
    wall_s: float
    mean_steps: float
    mean_nfev: float
    success: bool


def component_scaled_error(y: np.ndarray, ref: np.ndarray) -> float:
    """``max |y - ref| / s_c`` over ``[n, T, dim]`` outputs after the first (see the module docstring); NaN → inf."""
    scale = np.max(np.abs(ref[:, 1:]), axis=(0, 1))
    scale = np.where(scale > 0, scale, 1.0)
    err = np.abs(y[:, 1:] - ref[:, 1:]) / scale
    return float(np.max(np.where(np.isfinite(err), err, np.inf)))


def work_precision(system: str | System, methods: Sequence[str] = DEFAULT_METHODS,
                   tolerances: Sequence[float] = (1e-4, 1e-6, 1e-8), n: int = 8, t_eval: Any | None = None,
                   seed: int = 0, atol_ratio: float = 1e-3, reference_method: str = "Radau",
                   reference_rtol: float = 1e-12, reference_atol: float = 1e-16, backend: str = "auto",
                   params: dict[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    """Run the study; returns ``{"system", "n", "t_eval", "reference", "rows": [StudyRow as dict, ...]}``.

    ``t_eval=None`` takes the system's default grid; the initial states are
    ``system.initial_conditions(n, seed)``. A method that fails on some trajectory is kept with
    ``success=False`` and its error measured on what it returned (inf where it failed).
    """
    sys_obj = get_system(system, **(params or {}))
    n = check_positive_int(n, "n")
    if isinstance(methods, str) or not methods:
        raise ValidationError(f"methods must be a non-empty list of method names, got {methods!r}")
    tols = [check_tolerance(t, "tolerances") for t in tolerances]
    if not tols or any(not isinstance(t, float) for t in tols):
        raise ValidationError(f"tolerances must be a non-empty list of positive numbers, got {tolerances!r}")
    atol_ratio = check_tolerance(atol_ratio, "atol_ratio")
    t_arr = sys_obj.default_t_eval() if t_eval is None else check_time_grid(t_eval, "t_eval")
    y0 = sys_obj.initial_conditions(n, seed)
    ref = solve(sys_obj, y0, t_arr, method=reference_method, rtol=reference_rtol, atol=reference_atol,
                backend="python", max_steps=10_000_000)
    if not ref.all_success:
        raise ValidationError(f"the reference ({reference_method}, rtol={reference_rtol:g}) failed: "
                              f"{ref.messages[int(np.argmin(ref.success))]}; choose another reference_method")
    rows = []
    from tqdm.auto import tqdm

    for method in tqdm(methods, desc="work-precision", disable=not progress):
        # warm-up (imports, coefficient caches, first torch calls) outside the timings
        solve(sys_obj, y0[:1], t_arr, method=method, rtol=max(tols), atol=max(tols) * atol_ratio, backend=backend)
        for rtol in sorted(tols, reverse=True):
            atol = float(rtol * atol_ratio)
            cpu, wall = time.process_time(), time.perf_counter()
            sol = solve(sys_obj, y0, t_arr, method=method, rtol=rtol, atol=atol, backend=backend)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            rows.append(StudyRow(method=sol.method, backend=sol.backend, rtol=float(rtol), atol=atol,
                                 error=component_scaled_error(sol.y, ref.y), cpu_s=cpu, wall_s=wall,
                                 mean_steps=float(np.mean(sol.steps)), mean_nfev=float(np.mean(sol.nfev)),
                                 success=sol.all_success))
    return {"system": sys_obj.name, "params": sys_obj.params.to_dict(), "n": n, "seed": seed,
            "t_eval": [float(t_arr[0]), float(t_arr[-1]), int(t_arr.size)], "atol_ratio": atol_ratio,
            "reference": {"method": reference_method, "rtol": reference_rtol, "atol": reference_atol},
            "rows": [dataclasses.asdict(r) for r in rows]}


def save_study(result: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``work_precision.json`` and ``work_precision.png`` (error vs CPU time and vs nfev, log-log) to
    ``out_dir``; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from .io import save_figure

    out = Path(out_dir)
    table = out / "work_precision.json"
    with atomic_path(table) as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in dict.fromkeys(r["method"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["method"] == method]
        err = [r["error"] if np.isfinite(r["error"]) else np.nan for r in rows]
        label = f"{method} ({rows[0]['backend']})"
        axes[0].plot([r["cpu_s"] for r in rows], err, "o-", label=label)
        axes[1].plot([r["mean_nfev"] for r in rows], err, "o-", label=label)
        for r, e in zip(rows, err, strict=True):
            axes[0].annotate(f"{r['rtol']:.0e}", (r["cpu_s"], e), fontsize=6, alpha=0.6)
    for ax, xlabel in zip(axes, ("CPU time of the ensemble solve [s]", "mean f evaluations per trajectory"),
                          strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("max component-scaled error vs reference [-]")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    ref = result["reference"]
    fig.suptitle(f"Work-precision: {result['system']}, {result['n']} trajectories; reference {ref['method']} "
                 f"rtol={ref['rtol']:g}; atol = {result['atol_ratio']:g}·rtol")
    fig.tight_layout()
    figure = save_figure(fig, out / "work_precision.png", dpi=120)
    plt.close(fig)
    return table, figure
