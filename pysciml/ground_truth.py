"""``pysciml.solve``: ground-truth trajectories of catalogue systems from any backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends.base import Solution
from .backends.registry import resolve_backend
from .errors import ValidationError
from .systems import get as get_system
from .systems.base import System
from .validation import check_choice, check_positive_int, check_time_grid, check_tolerance

DEFAULT_MAX_STEPS = 100_000


def check_real(value: Any, name: str) -> None:
    """Reject complex input (numpy casting would silently drop the imaginary part)."""
    if type(value).__module__.startswith("torch"):  # numpy cannot read every torch dtype (e.g. bfloat16)
        is_complex = bool(getattr(value, "is_complex", lambda: False)())
    else:
        is_complex = bool(np.iscomplexobj(value))
    if is_complex:
        raise ValidationError(f"{name} must be real; complex states are not supported (pass the real and imaginary "
                              "parts as separate state components)")


def solve(system: str | System, y0: Any, t_eval: Any, method: str = "Radau", rtol: float = 1e-8,
          atol: float | Any = 1e-10, backend: str = "auto", n_jobs: int = 1,
          max_steps: int = DEFAULT_MAX_STEPS, progress: bool = False, params: dict[str, Any] | None = None,
          **options: Any) -> Solution:
    """Solve a catalogue system for a batch of initial states.

    Args:
        system: a :class:`~pysciml.systems.base.System` or its catalogue name (then ``params`` are used).
        y0: initial states ``[batch, dim]`` (or one state ``[dim]``) at time ``t_eval[0]``.
        t_eval: output times ``[T]``, strictly increasing; integration runs over ``[t_eval[0], t_eval[-1]]``.
        method: solver name: python backend ``Radau``, ``BDF``, ``LSODA``, ``DOP853``, ``RK45`` (SciPy, per
            trajectory), ``Rodas5P``, ``Rodas4``, ``Rosenbrock23`` (batched torch Rosenbrock), ``ETDRK4``
            (spectral, semilinear systems); julia backend methods when Julia is installed.
        rtol, atol: relative and absolute tolerances (``atol`` scalar or per component ``[dim]``).
        backend: ``"python"``, ``"julia"`` or ``"auto"`` (Julia only when available and it has ``method``).
        n_jobs: worker processes for per-trajectory methods.
        max_steps: step budget per trajectory; exceeding it gives status ``MAX_STEPS``.
        progress: show a tqdm progress bar.
        options: extra method options (e.g. ``dt`` for ETDRK4, ``first_step`` for SciPy).

    Returns:
        :class:`~pysciml.backends.base.Solution` with ``y [batch, T, dim]`` and per-trajectory status.

    Raises:
        ValidationError / UnknownNameError for bad input; BackendUnavailableError when the requested
        backend cannot run here.
    """
    sys_obj = get_system(system, **(params or {}))
    check_real(y0, "y0")
    y0_arr = sys_obj.check_state(y0, "y0")
    t_arr = check_time_grid(t_eval, "t_eval")
    rtol_v = check_tolerance(rtol, "rtol")
    if not isinstance(rtol_v, float):
        raise ValidationError(f"rtol must be a scalar, got an array of shape {np.shape(rtol)}")
    atol_v = check_tolerance(atol, "atol")
    if isinstance(atol_v, np.ndarray) and atol_v.shape != (sys_obj.dim,):
        raise ValidationError(f"atol must be a scalar or have shape [{sys_obj.dim}], got {atol_v.shape}")
    n_jobs_v = check_positive_int(n_jobs, "n_jobs")
    max_steps_v = check_positive_int(max_steps, "max_steps")
    chosen = resolve_backend(backend, method)
    check_choice(method, f"method for backend {chosen.name!r}", chosen.methods(), case_sensitive=False)
    return chosen.solve(sys_obj, y0_arr, t_arr, method=method, rtol=rtol_v, atol=atol_v,
                        max_steps=max_steps_v, n_jobs=n_jobs_v, progress=progress, options=options)
