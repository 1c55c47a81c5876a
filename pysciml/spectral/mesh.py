"""Spectral elements in time: Legendre series on Gauss–Lobatto nodes, their derivative, quadrature, evaluation.

A trajectory ``x(t)`` on ``[t_0, t_1]`` is split into ``E`` equal elements; on element ``e`` (length ``h``)
it is the truncated Legendre series of Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization
of Neural ODEs for System Identification" (ICLR 2020, arXiv:1906.07038), eq. (5),

    x(t) = Σ_{i=0}^{p} x_i ψ_i(t),     ψ_i(t) = P_i(τ),   τ = 2 (t − a_e) / h − 1,

and is stored by its values at the ``p + 1`` Gauss–Lobatto nodes of every element (neighbouring elements
share their end node, so the trajectory is continuous; ``N = E p + 1`` nodes in all). On one element
(eqs. (6)–(7)) the collocation matrix is ``M_qi = ψ_i(t_q)``, the derivative matrix ``D_qi = ψ̇_i(t_q)``, the
coefficients are ``x_I = M⁻¹ x(t_Q)`` and the derivative at the nodes is ``D M⁻¹ x(t_Q)``. ``M⁻¹`` is the
discrete Legendre transform ``M⁻¹ = diag(1/γ) Mᵀ diag(w)``, ``γ_i = 2/(2i + 1)`` (``i < p``), ``γ_p = 2/p``,
so nothing is inverted numerically.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import InputTypeError, ValidationError
from ..validation import check_positive_int
from .legendre import check_order, gauss_lobatto, legendre_table

__all__ = ["SpectralMesh"]


class SpectralMesh:
    """``n_elements`` Legendre elements of order ``p`` on ``t_span`` (torch tensors in ``dtype``).

    Attributes:
        nodes: global node times ``[N]``, ``N = n_elements · p + 1`` (seconds, or the data's time unit).
        element_index: ``[E, p + 1]`` indices of each element's nodes into ``nodes``.
        M, D: collocation ``ψ_i(t_q)`` and derivative ``ψ̇_i(t_q)`` matrices of one element ``[p + 1, p + 1]``
            (``D`` already carries the ``2/h`` of the time map).
        M_inv: ``M⁻¹`` (discrete Legendre transform). ``diff``: nodal derivative ``D M⁻¹``.
        weights: Gauss–Lobatto weights of one element on its interval ``[p + 1]`` (sum ``h``).
    """

    def __init__(self, t_span: tuple[float, float] = (0.0, 1.0), p: int = 14, n_elements: int = 1,
                 dtype: torch.dtype = torch.float64) -> None:
        self.p = check_order(p)
        self.n_elements = check_positive_int(n_elements, "n_elements")
        try:
            t0, t1 = (float(v) for v in t_span)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"t_span must be a pair (t0, t1) of numbers, got {t_span!r}") from exc
        if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
            raise ValidationError(f"t_span must be finite with t1 > t0, got {t_span!r}")
        self.t_span = (t0, t1)
        self.dtype = dtype
        self.h = (t1 - t0) / self.n_elements
        tau, w = gauss_lobatto(self.p)
        val, der = legendre_table(self.p, tau)
        gamma = 2.0 / (2.0 * np.arange(self.p + 1) + 1.0)
        gamma[-1] = 2.0 / self.p
        m_inv = (val * w[:, None]).T / gamma[:, None]
        starts = t0 + self.h * np.arange(self.n_elements)
        nodes = (starts[:, None] + 0.5 * self.h * (tau + 1.0)[None, :]).reshape(-1)
        keep = np.ones(nodes.size, dtype=bool)
        keep[self.p + 1::self.p + 1] = False          # drop each element's first node after the first element
        nodes = nodes[keep]
        nodes[-1] = t1
        as_t = lambda a: torch.as_tensor(a, dtype=dtype)   # noqa: E731
        self.tau = as_t(tau)
        self.nodes = as_t(nodes)
        self.element_index = (torch.arange(self.n_elements)[:, None] * self.p
                              + torch.arange(self.p + 1)[None, :])
        self.M = as_t(val)
        self.D = as_t(der * (2.0 / self.h))
        self.M_inv = as_t(m_inv)
        self.diff = as_t((der * (2.0 / self.h)) @ m_inv)
        self.weights = as_t(w * (0.5 * self.h))
        self._starts = starts

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of global nodes ``N = E p + 1``."""
        return self.n_elements * self.p + 1

    def __repr__(self) -> str:
        return f"SpectralMesh(t_span={self.t_span}, p={self.p}, n_elements={self.n_elements})"

    # ------------------------------------------------------------------ nodal operations
    def _check_nodal(self, x: Any, name: str = "x") -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise InputTypeError(f"{name} must be a floating torch.Tensor [batch, {self.n_nodes}, state]")
        if x.dim() != 3 or x.shape[1] != self.n_nodes:
            raise ValidationError(f"{name} must hold the values at the {self.n_nodes} mesh nodes, shape [batch, "
                                  f"{self.n_nodes}, state], got {tuple(x.shape)}")
        return x

    def element_values(self, x: torch.Tensor) -> torch.Tensor:
        """Nodal values per element: ``x [B, N, n]`` → ``[B, E, p + 1, n]``."""
        return self._check_nodal(x)[:, self.element_index]

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Legendre coefficients ``x_I = M⁻¹ x(t_Q)`` of every element: ``[B, N, n]`` → ``[B, E, p + 1, n]``."""
        return torch.einsum("iq,beqn->bein", self.M_inv.to(x), self.element_values(x))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``ẋ(t_q) = D M⁻¹ x(t_Q)`` on every element: ``[B, N, n]`` → ``[B, E, p + 1, n]``."""
        return torch.einsum("qr,bern->beqn", self.diff.to(x), self.element_values(x))

    def integrate(self, values: torch.Tensor) -> torch.Tensor:
        """Gauss–Lobatto quadrature ``Σ_e Σ_q w_q g(t_q)`` of ``values [..., E, p + 1]`` → ``[...]``."""
        if values.shape[-2:] != (self.n_elements, self.p + 1):
            raise ValidationError(f"values must end with [n_elements, p + 1] = [{self.n_elements}, {self.p + 1}],"
                                  f" got {tuple(values.shape)}")
        return (values * self.weights.to(values)).sum((-1, -2))

    def node_times(self) -> torch.Tensor:
        """Node times per element ``[E, p + 1]`` (shared end nodes repeated)."""
        return self.nodes[self.element_index]

    # ------------------------------------------------------------------ evaluation at arbitrary times
    def interpolation_matrix(self, t: Any, name: str = "t") -> torch.Tensor:
        """``E [T, N]`` with ``x(t_k) = Σ_j E_kj x(t_j)`` for the series through the nodal values.

        Raises :class:`ValidationError` if a time lies outside ``t_span`` (the series does not extrapolate).
        """
        tt = np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64).reshape(-1)
        if tt.size == 0 or not np.all(np.isfinite(tt)):
            raise ValidationError(f"{name} must be a non-empty array of finite times")
        t0, t1 = self.t_span
        slack = 1e-12 * max(1.0, abs(t0), abs(t1))
        if tt.min() < t0 - slack or tt.max() > t1 + slack:
            raise ValidationError(f"{name} has times in [{tt.min():.6g}, {tt.max():.6g}] outside the spectral "
                                  f"mesh [{t0:.6g}, {t1:.6g}]; a Legendre series does not extrapolate — build "
                                  f"the mesh on a t_span that covers the data")
        elem = np.clip(np.floor((tt - t0) / self.h).astype(np.int64), 0, self.n_elements - 1)
        tau = np.clip(2.0 * (tt - self._starts[elem]) / self.h - 1.0, -1.0, 1.0)
        local = legendre_table(self.p, tau)[0] @ self.M_inv.numpy()       # [T, p + 1]
        out = np.zeros((tt.size, self.n_nodes))
        cols = self.element_index.numpy()[elem]                            # [T, p + 1]
        np.put_along_axis(out, cols, local, axis=1)
        return torch.as_tensor(out, dtype=self.dtype)

    def evaluate(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """The series at arbitrary times: nodal ``x [B, N, n]``, ``t [T]`` → ``[B, T, n]``."""
        return torch.einsum("tj,bjn->btn", self.interpolation_matrix(t).to(x), self._check_nodal(x))

    def fit(self, t: Any, y: torch.Tensor, pin_start: bool = False) -> torch.Tensor:
        """Least-squares nodal values of the series closest to samples ``y [B, T, n]`` at times ``t [T]``.

        Solves ``min_x Σ_k ‖x(t_k) − y_k‖²`` (minimum-norm solution when the data cannot determine all ``N``
        nodal values). With ``pin_start`` the first sample, which must lie at ``t_0``, is matched exactly
        (the constraint ``x(t_0) = x_0`` of eq. (2)). Returns ``[B, N, n]``.
        """
        if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.dim() != 3:
            raise ValidationError(f"y must be a floating torch.Tensor [batch, time, state], got "
                                  f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        interp = self.interpolation_matrix(t).to(y)
        if interp.shape[0] != y.shape[1]:
            raise ValidationError(f"t has {interp.shape[0]} times but y has {y.shape[1]} samples per trajectory")
        rhs = y.transpose(0, 1).reshape(y.shape[1], -1)                    # [T, B n]
        if pin_start:
            tt = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
            if abs(float(tt[0]) - self.t_span[0]) > 1e-12 * max(1.0, abs(self.t_span[0])):
                raise ValidationError("pin_start=True needs the first sample at t_0 (the initial state)")
            rhs = rhs - interp[:, :1] @ rhs[:1]
            free = torch.linalg.lstsq(interp[:, 1:].cpu(), rhs.cpu(), driver="gelsd").solution.to(y)
            sol = torch.cat([y[:, 0].reshape(1, -1), free], dim=0)
        else:
            sol = torch.linalg.lstsq(interp.cpu(), rhs.cpu(), driver="gelsd").solution.to(y)
        return sol.reshape(self.n_nodes, y.shape[0], y.shape[2]).transpose(0, 1).contiguous()
