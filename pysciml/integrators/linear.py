"""Linear parts ``L`` of semilinear fields ``y' = L y + N(t, y)`` and the operations integrators need.

Exponential integrators need one *φ-action* per stage, ``e^{τL} v_0 + Σ_{k=1}^p τ^k φ_k(τL) w_k`` with
``w_k = τ^{1-k} Σ_j β_kj N_j`` (Al-Mohy & Higham 2011, Theorem 2.1; :meth:`LinearPart.exp_stage`); IMEX methods
need the shifted solve ``(I - c L)^{-1} r``. Each representation below does both in the way that suits it:

=================  ==================================  ==============================================
representation     φ-action                            shifted solve
=================  ==================================  ==============================================
:class:`DenseLinear`   block-matrix ``matrix_exp`` per step    LU factorisation per ``c`` (cached)
                   size (``phi="expm"``), or matrix-free
                   :func:`~.expmv.phimv` (``phi="expmv"``)
:class:`DiagonalLinear`  Kassam–Trefethen contour coefficients  element-wise division
:class:`FourierMultiplier` same, on the ``rfft`` modes (circulant  division on the ``rfft`` modes
                   ``L``, real-space state)
:class:`OperatorLinear`  :func:`~.expmv.phimv` (matrix-free)     not available (raises)
=================  ==================================  ==============================================

Coefficients that depend only on ``τ`` (φ-matrices, contour coefficients, LU factors) are cached per
distinct step in a ``cache`` dict owned by the stepper of one solve, so they are computed once per solve
and stay part of the autograd graph of that solve. Step sizes are treated as constants (no gradient with
respect to the output times flows through these coefficients).

Shapes: states ``[B, D]``; ``tau`` and ``c`` are ``[B]`` tensors (one value per sample).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InputTypeError, UnsupportedError, ValidationError
from .combination import combine, nonzero
from .expmv import Diagonal, LinearOperator, phimv
from .phi import phi_functions, phi_matrices

Cache = dict[Any, Any]


def _group(values: torch.Tensor) -> tuple[list[float], torch.Tensor | None]:
    """Distinct values of ``values [B]`` (as floats, detached) and the index of each sample's value
    (``None`` when all samples share one value: the common case, checked without sorting)."""
    values = values.detach()
    first = values[:1]
    if bool((values == first).all()):
        return [float(first)], None
    uniq, inverse = torch.unique(values, return_inverse=True)
    return [float(v) for v in uniq.tolist()], inverse


def _per_sample(cache: Cache, tag: Hashable, tau: torch.Tensor, build: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Coefficients for each distinct ``tau``: ``(stacked [U, ...], inverse [B] or None when U == 1)``.

    ``build(taus [U']) -> [U', ...]`` computes the ones not yet in ``cache`` (batched).
    """
    keys, inverse = _group(tau)
    missing = [k for k in keys if (tag, k) not in cache]
    if missing:
        built = build(torch.tensor(missing, dtype=torch.float64, device=tau.device))
        for k, value in zip(missing, built, strict=True):
            cache[(tag, k)] = value
    if inverse is None:
        return cache[(tag, keys[0])].unsqueeze(0), None
    return torch.stack([cache[(tag, k)] for k in keys]), inverse


def _used_columns(beta: np.ndarray) -> list[int]:
    """Indices ``j`` of the evaluations that a stage's ``beta [p, J]`` uses (a non-zero column)."""
    return np.flatnonzero(np.any(beta != 0.0, axis=0)).tolist()


def _stage_weights(beta: np.ndarray, evals: Sequence[torch.Tensor], tau: torch.Tensor) -> list[torch.Tensor]:
    """``w_k = τ^{1-k} Σ_j β_kj evals_j`` for ``k = 1..p`` (the φ-action inputs of one stage)."""
    tau_col = tau.unsqueeze(1)
    sums = [combine(nonzero(row), evals) for row in beta]
    return [(w if w is not None else torch.zeros_like(evals[0])) / (tau_col ** k if k else 1.0)
            for k, w in enumerate(sums)]


def _fold(coefs: torch.Tensor, beta: np.ndarray, taus: torch.Tensor) -> torch.Tensor:
    """Effective stage coefficients from ``coefs [U, p+1, ...]`` (``τ^k φ_k``, k = 0..p) and ``beta [p', J]``:
    ``[U, 1 + J, ...]`` with entry 0 ``e^{τL}`` and entry ``1 + j`` ``Σ_k τ^k φ_k β_kj / τ^{k-1}``."""
    extra = coefs.dim() - 2
    scale = taus.to(coefs.real.dtype).reshape(-1, 1, *([1] * extra))
    rows = [coefs[:, 0]]
    for j in range(beta.shape[1]):
        total = None
        for k in range(beta.shape[0]):
            if beta[k, j] != 0.0:
                term = float(beta[k, j]) * coefs[:, k + 1] / scale[:, 0] ** k
                total = term if total is None else total + term
        rows.append(total if total is not None else torch.zeros_like(coefs[:, 0]))
    return torch.stack(rows, dim=1)


class LinearPart(ABC):
    """A linear operator ``L`` on flat states ``[B, D]`` with the operations of ETD/IMEX integrators.

    Integrators may work in *coordinates* of ``L``: :meth:`to_basis` / :meth:`from_basis` (the identity unless
    ``L`` has a fast eigenbasis, e.g. Fourier modes), in which :meth:`exp_stage` acts. Exponential steppers
    keep their stage values and nonlinear evaluations in these coordinates, so a spectral ``L`` costs one
    transform per stage instead of one per φ-term.
    """

    dim: int
    #: whether :meth:`shifted_solve` is available (needed by IMEX methods)
    has_shifted_solve: bool = True

    @abstractmethod
    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        """``L y`` for ``y [B, D]``."""

    def to_basis(self, y: torch.Tensor) -> torch.Tensor:
        """Coordinates of ``y [B, D]`` in which :meth:`exp_stage` acts (identity by default)."""
        return y

    def from_basis(self, c: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_basis` (real states ``[B, D]``)."""
        return c

    @abstractmethod
    def exp_stage(self, tau: torch.Tensor, v0: torch.Tensor, evals: Sequence[torch.Tensor], beta: np.ndarray,
                  cache: Cache) -> torch.Tensor:
        """One exponential Runge–Kutta stage in coordinates: ``e^{τL} v0 + Σ_{k=1}^{p} τ^k φ_k(τL) w_k`` with
        ``w_k = τ^{1-k} Σ_j β_kj evals_j`` (``beta [p, J]``, see :mod:`.exponential`), per sample.

        Representations with precomputed φ-coefficients fold ``β`` into them once per step size (Kassam &
        Trefethen's ``E, E_2, Q, f_1, f_2, f_3``), so a stage costs ``1 + J`` products.
        """

    def shifted_solve(self, c: torch.Tensor, rhs: torch.Tensor, cache: Cache) -> torch.Tensor:
        """``(I - c L)^{-1} rhs`` per sample (``c [B]``), for IMEX methods (when ``has_shifted_solve``)."""
        raise UnsupportedError(f"{type(self).__name__} has no solve with I - c L: IMEX methods need L as a dense "
                              "matrix, a diagonal or a FourierMultiplier")

    @abstractmethod
    def negated(self) -> LinearPart:
        """``-L`` (for integrating backwards in time)."""

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The tensors that define ``L`` (for the adjoint: those requiring grad get gradients)."""
        return ()

    @abstractmethod
    def dense(self) -> torch.Tensor:
        """``L`` as a dense ``[D, D]`` matrix (analysis and tests; may be expensive)."""


class DenseLinear(LinearPart):
    """A dense matrix ``L [D, D]``; ``phi="expm"`` (block matrix exponential, default up to ``D = 256``) or
    ``"expmv"`` (matrix-free Al-Mohy–Higham action, better for large ``D``)."""

    def __init__(self, matrix: torch.Tensor, phi: str = "auto") -> None:
        self.matrix = matrix
        self.dim = int(matrix.shape[-1])
        self.phi = ("expm" if self.dim <= 256 else "expmv") if phi == "auto" else phi

    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        return y @ self.matrix.mT

    def exp_stage(self, tau: torch.Tensor, v0: torch.Tensor, evals: Sequence[torch.Tensor], beta: np.ndarray,
                  cache: Cache) -> torch.Tensor:
        if self.phi == "expmv":
            return phimv(self.matrix.to(v0.dtype), v0, _stage_weights(beta, evals, tau), tau.to(v0.dtype))
        p = beta.shape[0]
        lin = self.matrix.to(v0.dtype)
        mats, inverse = _per_sample(cache, ("stage", beta.tobytes(), beta.shape), tau,
                                    lambda taus: _fold(phi_matrices(lin, taus, p), beta, taus))
        vs = torch.stack([v0, *evals[: beta.shape[1]]], dim=1)  # [B, 1+J, D]
        if inverse is None:
            return torch.einsum("kij,bkj->bi", mats[0], vs)
        return torch.einsum("bkij,bkj->bi", mats[inverse], vs)

    def shifted_solve(self, c: torch.Tensor, rhs: torch.Tensor, cache: Cache) -> torch.Tensor:
        """``(I - cL)^{-1} rhs``; the inverse is formed once per distinct ``c`` (``torch.linalg.solve``)."""
        eye = torch.eye(self.dim, dtype=rhs.dtype, device=rhs.device)
        lin = self.matrix.to(rhs.dtype)
        invs, inverse = _per_sample(cache, "inv", c, lambda cs: torch.linalg.solve(
            eye - cs.to(rhs.dtype)[:, None, None] * lin, eye.expand(cs.shape[0], -1, -1)))
        if inverse is None:
            return rhs @ invs[0].mT
        return torch.einsum("bij,bj->bi", invs[inverse], rhs)

    def negated(self) -> DenseLinear:
        return DenseLinear(-self.matrix, self.phi)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.matrix,)

    def dense(self) -> torch.Tensor:
        return self.matrix


class _SpectralLinear(LinearPart):
    """``L = V diag(λ) V^{-1}`` with a fast, known eigenbasis: φ-actions and solves are element-wise there.

    Subclasses give the eigenvalues ``λ`` (real: half-circle contour; complex: full circle) and the maps
    to and from the eigenbasis (:meth:`to_basis`, :meth:`from_basis`).
    """

    eigenvalues: torch.Tensor

    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        return self.from_basis(self.eigenvalues.to(y.device) * self.to_basis(y))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.eigenvalues,)

    def _coefficients(self, taus: torch.Tensor, p: int, like: torch.Tensor) -> torch.Tensor:
        """``τ^k φ_k(τλ)`` for ``taus [U]``: ``[U, p+1, n]`` (contour evaluation, :func:`.phi.phi_functions`)."""
        lam = self.eigenvalues.to(device=like.device)
        real_dtype = like.real.dtype if like.is_complex() else like.dtype
        lam = lam if lam.is_complex() else lam.to(real_dtype)
        t = taus.to(real_dtype)
        phis = phi_functions(t[:, None] * lam, p)  # [U, n, p+1]
        powers = t[:, None] ** torch.arange(p + 1, dtype=t.dtype, device=t.device)
        return (phis * powers[:, None, :]).transpose(1, 2)

    def exp_stage(self, tau: torch.Tensor, v0: torch.Tensor, evals: Sequence[torch.Tensor], beta: np.ndarray,
                  cache: Cache) -> torch.Tensor:
        def build(taus: torch.Tensor) -> torch.Tensor:
            folded = _fold(self._coefficients(taus, beta.shape[0], v0), beta, taus)
            return folded.to(v0.dtype) if v0.is_complex() else folded  # complex coordinates: cast once

        coef, inverse = _per_sample(cache, ("stage", beta.tobytes(), beta.shape), tau, build)
        coef = coef if inverse is None else coef[inverse]  # [1 or B, 1+J, n]
        out = coef[:, 0] * v0
        for j in _used_columns(beta):
            out.addcmul_(evals[j], coef[:, j + 1])  # in place on a fresh tensor: one pass, no temporaries
        return out

    def shifted_solve(self, c: torch.Tensor, rhs: torch.Tensor, cache: Cache) -> torch.Tensor:
        lam = self.eigenvalues.to(device=rhs.device)
        denom = 1.0 - c.to(lam.real.dtype)[:, None] * lam
        return self.from_basis(self.to_basis(rhs) / denom)


class DiagonalLinear(_SpectralLinear):
    """``L = diag(d)``, ``d [D]`` real (or complex for complex states)."""

    def __init__(self, diag: torch.Tensor) -> None:
        self.eigenvalues = diag
        self.dim = int(diag.shape[-1])

    def negated(self) -> DiagonalLinear:
        return DiagonalLinear(-self.eigenvalues)

    def dense(self) -> torch.Tensor:
        return torch.diag(self.eigenvalues)


class FourierMultiplier(_SpectralLinear):
    """A circulant ``L`` on a periodic grid of ``n`` points, given by its symbol on the ``rfft`` modes.

    ``L y = irfft(symbol * rfft(y), n)`` for real states ``y [B, n]``; ``symbol [n//2 + 1]`` is real (even
    derivatives, e.g. ``k² - k⁴`` for Kuramoto–Sivashinsky) or complex. φ-actions and IMEX solves cost two
    FFTs (Kassam & Trefethen 2005). Note: for a complex symbol the imaginary part of the Nyquist and zero
    modes is discarded by ``irfft`` (as for any real circulant operator).
    """

    def __init__(self, symbol: torch.Tensor, n: int) -> None:
        if symbol.dim() != 1 or symbol.shape[0] != n // 2 + 1:
            raise ValueError(f"symbol must have shape [n//2 + 1] = [{n // 2 + 1}], got {tuple(symbol.shape)}")
        self.eigenvalues = symbol
        self.dim = int(n)

    def to_basis(self, y: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(y, dim=-1)

    def from_basis(self, c: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(c, n=self.dim, dim=-1)

    def negated(self) -> FourierMultiplier:
        return FourierMultiplier(-self.eigenvalues, self.dim)

    def dense(self) -> torch.Tensor:
        eye = torch.eye(self.dim, dtype=torch.float64, device=self.eigenvalues.device)
        return self.matvec(eye).mT


class OperatorLinear(LinearPart):
    """A matrix-free :class:`~.expmv.LinearOperator`; φ-actions by :func:`~.expmv.phimv`, no shifted solve."""

    has_shifted_solve = False

    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.dim = int(op.dim)

    def matvec(self, y: torch.Tensor) -> torch.Tensor:
        return self.op.matvec(y)

    def exp_stage(self, tau: torch.Tensor, v0: torch.Tensor, evals: Sequence[torch.Tensor], beta: np.ndarray,
                  cache: Cache) -> torch.Tensor:
        return phimv(self.op, v0, _stage_weights(beta, evals, tau), tau.to(v0.dtype))

    def negated(self) -> OperatorLinear:
        op = self.op
        trace = None if op.trace is None else -op.trace
        return OperatorLinear(LinearOperator(lambda x: -op.matvec(x), op.dim, trace=trace))

    def dense(self) -> torch.Tensor:
        eye = torch.eye(self.dim, dtype=torch.float64)
        return self.op.matvec(eye).mT


def as_linear_part(linear: Any, phi: str = "auto") -> LinearPart:
    """Convert a user's linear part to a :class:`LinearPart`.

    Accepted: a tensor ``[D, D]`` (dense), a tensor ``[D]`` (diagonal), :class:`~.expmv.Diagonal`,
    :class:`FourierMultiplier`, :class:`~.expmv.LinearOperator`, or a :class:`LinearPart`.
    """
    if isinstance(linear, LinearPart):
        return linear
    if isinstance(linear, Diagonal):
        return DiagonalLinear(linear.diag)
    if isinstance(linear, LinearOperator):
        return OperatorLinear(linear)
    if isinstance(linear, torch.Tensor):
        if not (linear.is_floating_point() or linear.is_complex()):
            raise InputTypeError(f"the linear part must be a floating tensor, got {linear.dtype}")
        if not bool(torch.isfinite(linear.detach()).all()):
            raise ValidationError("the linear part contains non-finite values")
        if linear.dim() == 1:
            return DiagonalLinear(linear)
        if linear.dim() == 2 and linear.shape[0] == linear.shape[1]:
            if phi not in ("auto", "expm", "expmv"):
                raise ValidationError(f"phi must be 'auto', 'expm' or 'expmv', got {phi!r}")
            return DenseLinear(linear, phi)
        raise ValidationError(f"the linear part must be [D, D] (dense) or [D] (diagonal), got "
                              f"{tuple(linear.shape)}")
    raise InputTypeError("the linear part must be a tensor, Diagonal, FourierMultiplier or LinearOperator, "
                         f"got {type(linear).__name__}")
