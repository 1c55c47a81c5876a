"""Adjoint sensitivities of trajectory losses from the Julia backend (SciMLSensitivity), with torch autograd.

:func:`sensitivity` returns a loss on a Julia-solved trajectory of a catalogue system and its gradient
with respect to the system's parameters and initial state, computed in Julia by reverse-mode AD (Zygote)
through ``solve`` with a SciMLSensitivity algorithm (``GaussAdjoint`` — the continuous adjoint with Gauss
quadrature, ``InterpolatingAdjoint``, ``QuadratureAdjoint``, ``BacksolveAdjoint`` or
``ForwardDiffSensitivity``; see Ma et al. 2021, "A comparison of automatic differentiation and continuous
sensitivity analysis for derivatives of differential equation solutions").

:class:`JuliaTrajectoryFunction` / :func:`julia_trajectory` wrap it as a ``torch.autograd.Function`` so that
a torch loss on the trajectory backpropagates into torch parameters of a mechanistic system: the backward
pass asks Julia for the vector-Jacobian product ``Σ_ij g_ij ∂y_ij/∂(θ, y0)`` as the gradient of the
linear loss ``Σ g ⊙ y`` (``loss="dot"``).

Requires the julia backend (see ``pysciml backends``); raises
:class:`~pysciml.errors.BackendUnavailableError` otherwise.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any

import numpy as np
import torch

from .backends import julia as _julia
from .backends.julia import JULIA_METHODS, SENSEALGS, julia_parameters, status_from_retcode
from .errors import InputTypeError, ValidationError
from .status import Status
from .systems import get as get_system
from .systems.base import System
from .validation import check_choice, check_positive_int, check_time_grid, check_tolerance

DEFAULT_MAX_STEPS = 100_000


@dataclasses.dataclass
class SensitivityResult:
    """Loss, gradients and trajectory from :func:`sensitivity`.

    Attributes:
        loss: the loss value (``"sse"``: ``½ Σ (y - data)²``; ``"dot"``: ``Σ data ⊙ y``).
        grad_params: ``∂loss/∂θ`` per Julia parameter name
            (see :func:`pysciml.backends.julia.julia_parameters`).
        grad_y0: ``∂loss/∂y0`` ``[dim]``.
        y: the trajectory ``[T, dim]`` at ``t_eval``.
        method, sensealg: the solver and the sensitivity algorithm used.
    """

    loss: float
    grad_params: dict[str, float]
    grad_y0: np.ndarray
    y: np.ndarray
    method: str
    sensealg: str


def _check_common(system: str | System, params: dict[str, Any] | None, t_eval: Any, method: str,
                  sensealg: str, rtol: Any, atol: Any, max_steps: int) -> tuple[System, np.ndarray, str, str]:
    sys_obj = get_system(system, **(params or {}))
    t = check_time_grid(t_eval, "t_eval")
    name = check_choice(method, "method", list(JULIA_METHODS), case_sensitive=False)
    if JULIA_METHODS[name].split:
        raise ValidationError(f"method {name!r} needs a split problem and cannot be differentiated here; use "
                              "Rodas5P, RadauIIA5, KenCarp4, Tsit5, …")
    sa = check_choice(sensealg, "sensealg", SENSEALGS)
    for value, label in ((rtol, "rtol"), (atol, "atol")):
        if not isinstance(check_tolerance(value, label), float):
            raise ValidationError(f"{label} must be a positive scalar")
    check_positive_int(max_steps, "max_steps")
    return sys_obj, t, name, sa


def _run(sys_obj: System, theta: np.ndarray, y0: np.ndarray, t: np.ndarray, data: np.ndarray, method: str,
         sensealg: str, loss: str, rtol: float, atol: float, max_steps: int) -> dict[str, Any]:
    return _julia.get_worker().call("sensitivity", system=sys_obj.name, params=np.ascontiguousarray(theta),
                             u0=np.ascontiguousarray(y0), tsave=np.ascontiguousarray(t),
                             data=np.ascontiguousarray(data), alg=method, sensealg=sensealg, loss=loss,
                             reltol=float(rtol), abstol=float(atol), maxiters=int(max_steps))


def sensitivity(system: str | System, y0: Any, t_eval: Any, data: Any, method: str = "Rodas5P",
                sensealg: str = "GaussAdjoint", loss: str = "sse", rtol: float = 1e-8, atol: float = 1e-10,
                max_steps: int = DEFAULT_MAX_STEPS,
                params: dict[str, Any] | None = None) -> SensitivityResult:
    """Loss on a Julia-solved trajectory and its gradient w.r.t. the system parameters and ``y0``.

    Args:
        system: catalogue system (name or object; ``params`` used with a name). Supported: robertson,
            two_body, rigid_body, transient_growth (not kuramoto_sivashinsky).
        y0: initial state ``[dim]`` at ``t_eval[0]``.
        t_eval: output times ``[T]`` (strictly increasing).
        data: ``[T, dim]`` targets (``loss="sse"``) or cotangent weights (``loss="dot"``).
        method: a non-split julia-backend method (default ``Rodas5P``).
        sensealg: one of :data:`pysciml.backends.julia.SENSEALGS`.
        loss: ``"sse"`` → ``½ Σ (y - data)²``; ``"dot"`` → ``Σ data ⊙ y``.
        rtol, atol: solver tolerances (scalars).

    Returns:
        :class:`SensitivityResult`.

    Raises:
        BackendUnavailableError without Julia; ValidationError for bad input.
    """
    sys_obj, t, name, sa = _check_common(system, params, t_eval, method, sensealg, rtol, atol, max_steps)
    loss_kind = check_choice(loss, "loss", ["sse", "dot"])
    x0 = sys_obj.check_state(y0, "y0")
    if x0.shape[0] != 1:
        raise ValidationError(f"y0 must be one state [{sys_obj.dim}], got a batch of {x0.shape[0]}")
    target = np.asarray(data, dtype=np.float64)
    if target.shape != (t.size, sys_obj.dim):
        raise ValidationError(f"data must have shape [T, dim] = [{t.size}, {sys_obj.dim}], "
                              f"got {target.shape}")
    names, theta = julia_parameters(sys_obj)
    out = _run(sys_obj, theta, x0[0], t, target, name, sa, loss_kind, rtol, atol, max_steps)
    grads = {n: float(g) for n, g in zip(names, out["grad_params"], strict=True)}
    return SensitivityResult(loss=float(out["loss"]), grad_params=grads, grad_y0=np.asarray(out["grad_y0"]),
                             y=np.asarray(out["y"]), method=name, sensealg=sa)


class JuliaTrajectoryFunction(torch.autograd.Function):
    """``(θ [P], y0 [dim]) → y [T, dim]`` solved by Julia; backward = Julia adjoint VJP (``loss="dot"``)."""

    @staticmethod
    def forward(ctx: Any, theta: torch.Tensor, y0: torch.Tensor, system: System, t: np.ndarray,
                method: str, sensealg: str, rtol: float, atol: float, max_steps: int) -> torch.Tensor:
        x0 = y0.detach().cpu().double().numpy()[None, :]
        th = theta.detach().cpu().double().numpy()
        out = _julia.get_worker().call("solve_ensemble", system=system.name, params=th, u0s=x0, tsave=t,
                                       alg=method, reltol=float(rtol), abstol=float(atol),
                                       maxiters=int(max_steps), dt=0.0)
        code = status_from_retcode(out["codes"][0])
        if code != Status.SUCCESS or not np.isfinite(out["y"]).all():
            raise RuntimeError(f"julia solve of {system.name!r} failed: {code.message} "
                               f"(ReturnCode {out['codes'][0]})")
        ctx.save_for_backward(theta, y0)
        ctx.setup = (system, t, method, sensealg, rtol, atol, max_steps)
        return torch.as_tensor(out["y"][0], dtype=theta.dtype, device=theta.device)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        theta, y0 = ctx.saved_tensors
        system, t, method, sensealg, rtol, atol, max_steps = ctx.setup
        out = _run(system, theta.detach().cpu().double().numpy(), y0.detach().cpu().double().numpy(), t,
                   grad_y.detach().cpu().double().numpy(), method, sensealg, "dot", rtol, atol, max_steps)
        g_theta = torch.as_tensor(out["grad_params"], dtype=theta.dtype, device=theta.device)
        g_y0 = torch.as_tensor(out["grad_y0"], dtype=y0.dtype, device=y0.device)
        return g_theta, g_y0, None, None, None, None, None, None, None


def julia_trajectory(system: str | System, theta: torch.Tensor, y0: torch.Tensor, t_eval: Any,
                     method: str = "Rodas5P", sensealg: str = "GaussAdjoint", rtol: float = 1e-8,
                     atol: float = 1e-10, max_steps: int = DEFAULT_MAX_STEPS,
                     params: dict[str, Any] | None = None) -> torch.Tensor:
    """Differentiable Julia solve: trajectory ``[T, dim]`` of ``system`` with parameter vector ``theta [P]``.

    ``theta`` follows the order of :func:`pysciml.backends.julia.julia_parameters` (e.g. robertson:
    ``k1, k2, k3, y2_scale``); gradients flow to ``theta`` and ``y0 [dim]`` through the Julia adjoint.
    """
    sys_obj, t, name, sa = _check_common(system, params, t_eval, method, sensealg, rtol, atol, max_steps)
    if not isinstance(theta, torch.Tensor) or not isinstance(y0, torch.Tensor):
        raise InputTypeError("theta and y0 must be torch tensors")
    names, _ = julia_parameters(sys_obj)
    if theta.shape != (len(names),):
        raise ValidationError(f"theta must have shape [{len(names)}] ({', '.join(names) or 'no parameters'}) "
                              f"for {sys_obj.name!r}, got {tuple(theta.shape)}")
    if y0.shape != (sys_obj.dim,):
        raise ValidationError(f"y0 must have shape [{sys_obj.dim}], got {tuple(y0.shape)}")
    return JuliaTrajectoryFunction.apply(theta, y0, sys_obj, t, name, sa, float(rtol), float(atol), max_steps)


class _CallableModule(types.ModuleType):
    """This module's type: importing the submodule rebinds ``pysciml.sensitivity`` to the module, so the
    module itself forwards calls to :func:`sensitivity` (``pysciml.sensitivity(...)`` always works)."""

    def __call__(self, *args: Any, **kwargs: Any) -> SensitivityResult:
        return sensitivity(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
