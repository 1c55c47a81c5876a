"""Structured surrogates of Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural
ODEs for System Identification" (ICLR 2020, arXiv:1906.07038), §5 (planar vehicle) and §6 (multi-agent).

Both are batch-first vector fields ``f(t [P], x [P, n], u [P, n_u]) -> [P, n]`` usable by
:class:`pysciml.training.snet.SNetTrainer` and (through :func:`with_input`) by ``pysciml.odeint``.

* :class:`VehicleSurrogate` — eq. (8) with one network per matrix:
  ``η' = f_J(sin φ, cos φ) v``, ``M v' = u − f_d(v) − f_C(v) v``, ``u = (Fx, 0, τ)``. Each network has two
  layers, the first with ``tanh``; ``f_C`` and ``f_d`` have no bias (so ``d(0) = 0``, ``C(0) = 0``).
  ``M = diag(m, m, I)`` is taken as known (the paper learns "each matrix" J, C, d; M is not mentioned —
  reconstruction; default ``m = I = 1`` as in App. A).
* :class:`MultiAgentKinematics` — eq. (9) with the known policies and a learned kinematics matrix shared by
  all agents: ``η_i' = f_J(sin φ_i, cos φ_i) v_i``, ``f_J: R² → R^{3×2}``, ``v_i`` from
  :meth:`pysciml.systems.MultiAgent.velocities`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, ValidationError
from ..validation import check_positive_int
from ._config import configurable

__all__ = ["MultiAgentKinematics", "VehicleSurrogate", "two_layer", "with_input"]


def two_layer(n_in: int, hidden: int, n_out: int, bias: bool = True) -> nn.Sequential:
    """``Linear → tanh → Linear`` (the paper's "two layers, the first with a tanh activation"), float64."""
    return nn.Sequential(nn.Linear(n_in, hidden, bias=bias), nn.Tanh(),
                         nn.Linear(hidden, n_out, bias=bias)).double()


def _check(x: torch.Tensor, u: torch.Tensor, n: int, n_u: int, who: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(u, torch.Tensor):
        raise InputTypeError(f"{who} takes tensors x [points, {n}] and u [points, {n_u}]")
    if x.dim() != 2 or x.shape[1] != n or u.shape != (x.shape[0], n_u):
        raise ValidationError(f"{who} expects x [points, {n}] and u [points, {n_u}], got {tuple(x.shape)} and "
                              f"{tuple(u.shape)}")


@configurable
class VehicleSurrogate(nn.Module):
    """Vehicle surrogate ``f(t, x, u)``: ``x = (x, y, φ, vx, vy, ω) [P, 6]``, ``u = (Fx, τ) [P, 2]`` → ``[P, 6]``."""

    def __init__(self, hidden: int = 32, mass: float = 1.0, inertia: float = 1.0) -> None:
        super().__init__()
        hidden = check_positive_int(hidden, "hidden")
        if not (mass > 0 and inertia > 0):
            raise ValidationError(f"mass and inertia must be positive, got {mass!r}, {inertia!r}")
        self.f_J = two_layer(2, hidden, 9)
        self.f_C = two_layer(3, hidden, 9, bias=False)
        self.f_d = two_layer(3, hidden, 3, bias=False)
        self.register_buffer("inv_mass", torch.tensor([1 / mass, 1 / mass, 1 / inertia], dtype=torch.float64))

    def forward(self, t: torch.Tensor, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        _check(x, u, 6, 2, "VehicleSurrogate")
        phi, v = x[:, 2], x[:, 3:]
        jac = self.f_J(torch.stack([torch.sin(phi), torch.cos(phi)], dim=1)).reshape(-1, 3, 3)
        cor = self.f_C(v).reshape(-1, 3, 3)
        force = torch.stack([u[:, 0], torch.zeros_like(u[:, 0]), u[:, 1]], dim=1)
        eta_dot = torch.einsum("pij,pj->pi", jac, v)
        v_dot = self.inv_mass * (force - self.f_d(v) - torch.einsum("pij,pj->pi", cor, v))
        return torch.cat([eta_dot, v_dot], dim=1)


@configurable
class MultiAgentKinematics(nn.Module):
    """Multi-agent surrogate ``f(t, η, w)``: ``η [P, 3 Na]``, ``w [P, 2]`` → ``[P, 3 Na]`` (known policy).

    ``system`` is a :class:`pysciml.systems.MultiAgent` or the dict of its parameters (e.g. ``{"n_agents": 10}``);
    only the dict form is recorded in checkpoints, so that :func:`pysciml.load_model` can rebuild the model.
    """

    def __init__(self, system: Any, hidden: int = 32) -> None:
        super().__init__()
        if isinstance(system, dict):
            from ..systems import get as get_system

            system = get_system("multi_agent", **system)
        if not hasattr(system, "velocities") or not hasattr(system, "params"):
            raise InputTypeError(f"system must be a pysciml.systems.MultiAgent, got {type(system).__name__}")
        self.system = system
        self.n_agents = int(system.params.n_agents)
        self.f_J = two_layer(2, check_positive_int(hidden, "hidden"), 6)

    def forward(self, t: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        _check(x, w, 3 * self.n_agents, 2, "MultiAgentKinematics")
        v = self.system.velocities(x, w)                                   # [P, Na, 2]
        phi = x.reshape(-1, self.n_agents, 3)[..., 2]
        jac = self.f_J(torch.stack([torch.sin(phi), torch.cos(phi)], dim=-1)).reshape(-1, self.n_agents, 3, 2)
        return torch.einsum("paij,paj->pai", jac, v).reshape(x.shape)


class with_input(nn.Module):  # noqa: N801 - reads as a function: with_input(field, series)
    """``f(t, x, u)`` and a per-trajectory input series as an autonomous-in-the-batch field for ``odeint``.

    ``pysciml.odeint`` passes only the active samples, so the sample index rides along as one extra constant
    state: the solver state is ``[x, index]`` (``[B, n + 1]``, index' = 0) and ``u = series.select(index)(t)``.
    Build the initial state with :meth:`augment` and drop the index from the solution with ``ys[..., :-1]``.
    """

    def __init__(self, field: nn.Module, series: Any) -> None:
        super().__init__()
        self.field, self.series = field, series

    @staticmethod
    def augment(x0: torch.Tensor) -> torch.Tensor:
        """``x0 [B, n]`` → ``[B, n + 1]`` with the sample index appended."""
        idx = torch.arange(x0.shape[0], dtype=x0.dtype, device=x0.device)[:, None]
        return torch.cat([x0, idx], dim=1)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        idx = z[:, -1].detach().round().long()
        u = self.series.select(idx)(t.expand(z.shape[0]).to(z))
        return torch.cat([self.field(t, z[:, :-1], u), torch.zeros_like(z[:, -1:])], dim=1)
