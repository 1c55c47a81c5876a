"""Action of the matrix exponential ``e^{tA} b`` and of φ-functions, matrix-free and batched, in torch.

Algorithm: A. H. Al-Mohy & N. J. Higham, "Computing the action of the matrix exponential, with an application
to exponential integrators", SIAM J. Sci. Comput. 33(2):488–511 (2011), doi 10.1137/100788860:

* **Algorithm 3.2** — truncated Taylor series with scaling: ``e^{tA} b = (T_m(tA/s))^s b`` where
  ``T_m(X) = Σ_{k≤m} X^k/k!``; the ``s`` steps are ``F ← η T_m(t(A − μI)/s) F`` with the trace shift
  ``μ = tr(A)/n`` and ``η = e^{tμ/s}``; the series of each step stops early once two consecutive terms are
  below ``tol·‖F‖_∞`` (``tol = 2^-53`` for float64, ``2^-24`` for float32).
* **Choice of (m*, s)** (code fragment 3.1 and condition (3.13)): with ``n0`` right-hand sides, if
  ``‖tA‖₁ ≤ 4 θ_{m_max} p_max (p_max + 3) / (m_max n0)`` use ``α_p = ‖tA‖₁``, otherwise
  ``α_p = max(d_p, d_{p+1})`` with ``d_p = ‖(tA)^p‖₁^{1/p}``, ``p = 2 … p_max``; minimise the number of
  matrix–vector products ``m ⌈α_p/θ_m⌉`` over ``p`` and ``m ≥ p(p−1)−1`` (first minimum in ``(p, m)`` order,
  as in SciPy's ``_fragment_3_1``) and set ``s = max(⌈α_p/θ_{m*}⌉, 1)``. ``θ_m`` (m = 1 … 55) is the
  double-precision table of the authors' ``theta_taylor.mat`` (it is also used for float32, which is safe:
  the float32 θ_m are larger, so the float64 choice only does more work than necessary).
* **Theorem 2.1** (φ-functions through one exponential of an augmented matrix): with
  ``W = [w_1, …, w_p]`` and the upper shift ``J_p``,
  ``exp(τ [[A, W], [0, J_p]]) [b; e_p] = [e^{τA} b + Σ_{k=1}^{p} τ^k φ_k(τA) w_{p−k+1}; …]``.

Norms for the ``(m*, s)`` choice (all under ``torch.no_grad()``; they only pick integers):

* dense ``A`` (``[n, n]`` with ``n ≤ 512``, ``[B, n, n]`` with ``B·n³ ≤ 2^27``) and :class:`LinearOperator`
  with ``n ≤ 512``: **exact** ``‖(A − μI)^p‖₁`` from batched matrix powers in float64 (a
  :class:`LinearOperator` is materialised by one ``matvec`` call on the identity); ``‖A − μI‖₁`` itself is
  always exact for dense ``A``;
* larger ones: the block 1-norm estimator of N. J. Higham & F. Tisseur, "A block algorithm for matrix 1-norm
  estimation, with an application to 1-norm pseudospectra", SIAM J. Matrix Anal. Appl. 21(4):1185–1201
  (2000), Algorithm 2.4 with block size 2, batched and simplified (no resampling of parallel sign vectors; it
  stops when no estimate grows or no unvisited unit vector is left, at most 5 iterations); ``A^T x`` of a
  :class:`LinearOperator` comes from autograd (a vector–Jacobian product of its linear ``matvec``);
* :class:`Diagonal`: exact, ``‖(D − μI)^p‖₁^{1/p} = max_i |d_i − μ|``.

Differences from Algorithm 3.2 (deliberate): the shift is used only where it reduces ``‖A‖₁`` (the quantity
that drives the cost); ``t = 0`` (or ``tA − μI = 0``) uses ``m* = 1, s = 1`` instead of ``m* = 0`` so that the
result is still ``b`` but its derivative w.r.t. ``t`` and ``A`` is exact; :func:`expmv` of a :class:`Diagonal`
is the exact ``exp(t d) ⊙ b``; :func:`phimv` balances ``W`` by a power of two (``W → ηW``, ``e_p → e_p/η``, a
similarity with ``diag(I, η^{-1} I)`` that leaves the first ``n`` entries unchanged) so that
``‖ηW‖₁ ≈ max(‖A‖₁, 1)``.

Batching: one shared operator and a scalar ``t`` treat the ``B`` vectors as one ``n × B`` block (``n0 = B``,
a single ``(m*, s)``); per-sample matrices or per-sample times choose ``(m*, s)`` per sample and run the
Taylor loop vectorised with per-sample masks (terminated samples stop changing; the loop runs to the maximum
over the batch, and samples that are done are set aside so the operator is applied to the running ones only).
The Taylor loop is differentiable w.r.t. ``A`` (dense tensor, diagonal, or tensors captured by ``matvec``),
``b``, the ``ws`` and ``t``. Its cost is at most ``m*·s`` operator applications, and ``s`` grows linearly
with ``‖tA‖₁`` (about ``‖tA‖₁/θ_{m*}``): very stiff problems over long times are expensive.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import InputTypeError, ValidationError

__all__ = ["MAX_MATVECS", "THETA_DOUBLE", "Diagonal", "LinearOperator", "expmv", "phimv"]

#: θ_m, m = 1 … 55, for ``tol = 2^-53`` (Al-Mohy & Higham 2011, ``theta_taylor.mat``; paper Table 3.1 rounds them).
THETA_DOUBLE: tuple[float, ...] = (
    2.22044604925031e-16, 2.58095680299462e-08, 1.38634786611912e-05, 3.39716883997683e-04, 2.40087635788727e-03,
    9.0656564075951e-03, 2.38445553250027e-02, 4.99122887111532e-02, 8.95776020322334e-02, 0.144182976161438,
    0.214235806845171, 0.299615891381158, 0.39977753363168, 0.513914693612429, 0.64108352330412,
    0.780287425662658, 0.930532846078657, 1.09086371929004, 1.26038106064264, 1.43825259680434,
    1.62371595023582, 1.81607781621509, 2.01471078094462, 2.21904886936509, 2.42858252444283,
    2.64285345745944, 2.86144963393426, 3.08400054498916, 3.31017283989027, 3.53966634874369,
    3.77221049568175, 4.00756108611804, 4.2454974425797, 4.48581985944737, 4.72834734579354,
    4.97291562619198, 5.21937537108406, 5.46759063052454, 5.71743744757201, 5.96880263004185,
    6.22158266168989, 6.47568273607998, 6.73101589838102, 6.98750228213063, 7.24506842959795,
    7.50364668578886, 7.76317465737799, 8.02359472893998, 8.28485362980392, 8.54690204568493,
    8.80969426997132, 9.07318789017615, 9.33734350561201, 9.60212447282656, 9.8674966757534,
)

_TOL: dict[torch.dtype, float] = {torch.float64: 2.0 ** -53, torch.float32: 2.0 ** -24}
_EXACT_NORM_MAX_DIM = 512  # a LinearOperator up to this size is materialised for exact norms
_EXACT_NORM_WORK = 2 ** 27  # exact ‖A^p‖₁ while (number of distinct matrices)·n³ ≤ this (= 512³), else estimated
_NORMEST_BLOCK = 2  # Higham–Tisseur block size t
_NORMEST_ITMAX = 5
_COMPACT_MIN_GROUPS = 32  # the Taylor loop drops finished groups once at most half of at least this many run
_ELL = 2  # ℓ in condition (3.13): SciPy's 2ℓ p_max (p_max+3) θ_{m_max} / (n0 m_max)
#: Default cap on the sequential operator applications ``m*·s`` of one call (``‖tA‖₁`` up to about 1.8e4):
#: beyond it :func:`expmv` raises instead of running for hours (‖tA‖₁ ≈ 1e9 would need ~5e9 applications).
MAX_MATVECS = 100_000

OperatorLike = Any  # torch.Tensor | Diagonal | LinearOperator (documented; kept loose for the type checker)


# ---------------------------------------------------------------------------------------------------------------
# public operator types
# ---------------------------------------------------------------------------------------------------------------


class Diagonal:
    """The diagonal matrix ``diag(d)``, given by its diagonal.

    Args:
        diag: ``[n]`` (one matrix shared by all vectors) or ``[B, n]`` (one matrix per sample), float32/float64,
            finite.
    """

    def __init__(self, diag: torch.Tensor) -> None:
        if not isinstance(diag, torch.Tensor):
            raise InputTypeError(f"Diagonal(diag): diag must be a torch.Tensor, got {type(diag).__name__}; "
                                 "wrap it with torch.as_tensor(..., dtype=torch.float64)")
        _check_dtype(diag, "Diagonal(diag)")
        if diag.dim() not in (1, 2) or diag.shape[-1] == 0:
            raise ValidationError(f"Diagonal(diag): diag must have shape [n] or [B, n] with n ≥ 1, got "
                                  f"{list(diag.shape)}")
        _check_finite(diag, "Diagonal(diag)")
        self.diag = diag

    @property
    def dim(self) -> int:
        """The matrix size ``n``."""
        return int(self.diag.shape[-1])

    def __repr__(self) -> str:
        return f"Diagonal(shape={list(self.diag.shape)}, dtype={self.diag.dtype})"


class LinearOperator:
    """A matrix-free linear operator ``x ↦ A x`` of size ``n × n``, one operator shared by all vectors.

    Args:
        matvec: maps ``x [..., n]`` to ``A x [..., n]``, batched over the leading dims. It must be linear and
            written in torch: its autograd vector–Jacobian product gives ``A^T y`` (used by the 1-norm
            estimator) and the gradients w.r.t. the tensors it captures flow through :func:`expmv`.
        dim: ``n``.
        trace: ``tr(A)``, enabling the trace shift; ``None`` (default) means no shift.
    """

    def __init__(self, matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                 trace: float | torch.Tensor | None = None) -> None:
        if not callable(matvec):
            raise InputTypeError(f"LinearOperator(matvec): matvec must be callable (x [..., n] -> A x [..., n]), "
                                 f"got {type(matvec).__name__}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValidationError(f"LinearOperator(dim): dim must be a positive int (the size n), got {dim!r}")
        if trace is not None:
            if isinstance(trace, torch.Tensor):
                if trace.numel() != 1 or trace.is_complex():
                    raise ValidationError(f"LinearOperator(trace): trace must be a real scalar, got a tensor of "
                                          f"shape {list(trace.shape)} and dtype {trace.dtype}")
                value = float(trace.detach())
            elif isinstance(trace, (int, float)) and not isinstance(trace, bool):
                value = float(trace)
            else:
                raise InputTypeError(f"LinearOperator(trace): trace must be a float, a scalar tensor or None, "
                                     f"got {type(trace).__name__}")
            if not math.isfinite(value):
                raise ValidationError(f"LinearOperator(trace): trace must be finite, got {value}")
        self.matvec = matvec
        self.dim = dim
        self.trace = trace

    def rmatvec(self, y: torch.Tensor) -> torch.Tensor:
        """``A^T y`` for ``y [..., n]``, by autograd through ``matvec`` (a vector–Jacobian product)."""
        with torch.enable_grad():
            x = torch.zeros_like(y).requires_grad_(True)
            out = self.matvec(x)
            if not out.requires_grad:  # A = 0 (matvec ignores x)
                return torch.zeros_like(y)
            (grad,) = torch.autograd.grad(out, x, grad_outputs=y, allow_unused=True)
        return torch.zeros_like(y) if grad is None else grad

    def __repr__(self) -> str:
        return f"LinearOperator(dim={self.dim}, trace={self.trace!r})"


# ---------------------------------------------------------------------------------------------------------------
# internal operators: all act on row blocks X [g, k, n] (g groups with k vectors each)
# ---------------------------------------------------------------------------------------------------------------


class _Op(ABC):
    """Internal operator interface. ``batch`` is ``None`` for one shared operator, else the number of groups
    (group ``i`` has its own operator)."""

    n: int
    batch: int | None
    dtype: torch.dtype
    device: torch.device

    @abstractmethod
    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for ``x [g, k, n]``."""

    @abstractmethod
    def apply_t(self, x: torch.Tensor) -> torch.Tensor:
        """``A^T x`` for ``x [g, k, n]``, used by the 1-norm estimator."""

    def subset(self, idx: torch.Tensor) -> _Op:
        """The operators of the groups ``idx`` (a shared operator returns itself)."""
        return self

    def shifted(self, mu: torch.Tensor) -> _Op:
        """``A − μ_g I`` for shifts ``mu [g]`` (in the operator's dtype; treated as constants)."""
        return _ShiftedOp(self, mu)

    def trace(self) -> torch.Tensor | None:
        """``tr(A)`` as float64 (0-dim, or ``[batch]``), ``None`` when unknown."""
        return None

    def matrix(self) -> torch.Tensor | None:
        """Detached dense matrix ``[n, n]`` / ``[batch, n, n]`` if it is at hand (or cheap to form), else ``None``."""
        return None

    def root_norms(self, mu: torch.Tensor, num: int) -> torch.Tensor:
        """``d_p = ‖(A − μ_g I)^p‖₁^{1/p}`` for ``p = 1 … num``: float64 ``[g, num]`` for shifts ``mu [g]``
        (float64). A shared operator computes each distinct shift once."""
        if self.batch is None:
            uniq, inverse = torch.unique(mu, return_inverse=True)
            return self._root_norms(uniq, num)[inverse]
        return self._root_norms(mu, num)

    def _root_norms(self, mu: torch.Tensor, num: int) -> torch.Tensor:
        mat = self.matrix()
        g = mu.shape[0]
        if mat is not None and (num == 1 or (1 if mat.dim() == 2 else g) * self.n ** 3 <= _EXACT_NORM_WORK):
            return _exact_root_norms(mat.expand(g, self.n, self.n) if mat.dim() == 2 else mat, mu, num)
        mu_x = mu.to(self.dtype).view(-1, 1, 1)

        def shifted(x: torch.Tensor) -> torch.Tensor:
            return self.apply(x) - mu_x * x

        def shifted_t(x: torch.Tensor) -> torch.Tensor:
            return self.apply_t(x) - mu_x * x

        return _estimate_root_norms(shifted, shifted_t, self.n, g, num, self.dtype, self.device)


class _ShiftedOp(_Op):
    """``A − μ_g I`` applied as ``A x − μ_g x`` (for operators whose shift cannot be folded in)."""

    def __init__(self, base: _Op, mu: torch.Tensor) -> None:
        self.base, self.mu = base, mu
        self.n, self.batch, self.dtype, self.device = base.n, base.batch, base.dtype, base.device
        self._neg_mu = (-mu).view(-1, 1, 1)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.base.apply(x), self._neg_mu, x)

    def apply_t(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.base.apply_t(x), self._neg_mu, x)

    def subset(self, idx: torch.Tensor) -> _Op:
        return _ShiftedOp(self.base.subset(idx), self.mu[idx])


class _DenseOp(_Op):
    def __init__(self, a: torch.Tensor) -> None:
        self.a = a
        self.n = int(a.shape[-1])
        self.batch = int(a.shape[0]) if a.dim() == 3 else None
        self.dtype, self.device = a.dtype, a.device

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.a.transpose(-1, -2))

    def apply_t(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.a)

    def subset(self, idx: torch.Tensor) -> _Op:
        return self if self.batch is None else _DenseOp(self.a[idx])

    def shifted(self, mu: torch.Tensor) -> _Op:
        eye = torch.eye(self.n, dtype=self.dtype, device=self.device)
        if self.batch is not None:
            return _DenseOp(self.a - mu.view(-1, 1, 1) * eye)
        if bool((mu == mu[0]).all()):
            return _DenseOp(self.a - mu[0] * eye)
        return _ShiftedOp(self, mu)

    def trace(self) -> torch.Tensor:
        return self.a.detach().diagonal(dim1=-2, dim2=-1).sum(-1).double()

    def matrix(self) -> torch.Tensor:
        return self.a.detach()


class _DiagOp(_Op):
    def __init__(self, d: torch.Tensor) -> None:
        self.d = d
        self.n = int(d.shape[-1])
        self.batch = int(d.shape[0]) if d.dim() == 2 else None
        self.dtype, self.device = d.dtype, d.device

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.d if self.batch is None else self.d.unsqueeze(-2))

    apply_t = apply

    def subset(self, idx: torch.Tensor) -> _Op:
        return self if self.batch is None else _DiagOp(self.d[idx])

    def shifted(self, mu: torch.Tensor) -> _Op:
        if self.batch is not None:
            return _DiagOp(self.d - mu.unsqueeze(-1))
        return _ShiftedOp(self, mu)

    def trace(self) -> torch.Tensor:
        return self.d.detach().sum(-1).double()

    def root_norms(self, mu: torch.Tensor, num: int) -> torch.Tensor:
        dev = (self.d.detach().double() - mu.unsqueeze(-1)).abs().amax(-1)  # ‖(D − μI)^p‖₁^{1/p} = max_i |d_i − μ|
        return dev.unsqueeze(-1).expand(mu.shape[0], num)


class _LinOp(_Op):
    def __init__(self, op: LinearOperator, like: torch.Tensor) -> None:
        self.op = op
        self.n = op.dim
        self.batch = None
        self.dtype, self.device = like.dtype, like.device
        self._dense: torch.Tensor | None = None

    def _call(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        out = fn(x.reshape(-1, self.n))
        if not isinstance(out, torch.Tensor) or out.shape != (x.numel() // self.n, self.n):
            got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValidationError(f"LinearOperator.matvec must map x [N, {self.n}] to a tensor [N, {self.n}]; "
                                  f"for N = {x.numel() // self.n} it returned {got}")
        return out.reshape(x.shape)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(self.op.matvec, x)

    def apply_t(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(self.op.rmatvec, x)

    def trace(self) -> torch.Tensor | None:
        tr = self.op.trace
        if tr is None:
            return None
        return torch.tensor(float(tr.detach()) if isinstance(tr, torch.Tensor) else float(tr),
                            dtype=torch.float64, device=self.device)

    def matrix(self) -> torch.Tensor | None:
        if self.n > _EXACT_NORM_MAX_DIM:
            return None
        if self._dense is None:
            with torch.no_grad():
                eye = torch.eye(self.n, dtype=self.dtype, device=self.device)
                self._dense = self._call(self.op.matvec, eye.unsqueeze(0))[0].T  # row i of matvec(I) is A e_i
        return self._dense


class _AugmentedOp(_Op):
    """``Ã = [[A, W], [0, J_p]]`` applied matrix-free to ``z = [x; y]``: ``Ã z = [A x + W y; J_p y]``.

    ``w [g, n, p]`` holds one ``W`` per group (the ``ws`` differ per sample).
    """

    def __init__(self, base: _Op, w: torch.Tensor) -> None:
        self.base = base
        self.w = w
        self.p = int(w.shape[-1])
        self.n = base.n + self.p
        self.batch = int(w.shape[0])
        self.dtype, self.device = base.dtype, base.device

    def apply(self, z: torch.Tensor) -> torch.Tensor:
        n0 = self.base.n
        x, y = z[..., :n0], z[..., n0:]
        top = self.base.apply(x) + torch.matmul(y, self.w.transpose(-1, -2))
        bottom = torch.cat([y[..., 1:], torch.zeros_like(y[..., :1])], dim=-1)  # (J_p y)_i = y_{i+1}
        return torch.cat([top, bottom], dim=-1)

    def apply_t(self, z: torch.Tensor) -> torch.Tensor:
        # Ãᵀ [x; y] = [Aᵀ x; Wᵀ x + J_pᵀ y] with (J_pᵀ y)_i = y_{i-1}
        n0 = self.base.n
        x, y = z[..., :n0], z[..., n0:]
        shifted = torch.cat([torch.zeros_like(y[..., :1]), y[..., :-1]], dim=-1)
        return torch.cat([self.base.apply_t(x), torch.matmul(x, self.w) + shifted], dim=-1)

    def subset(self, idx: torch.Tensor) -> _Op:
        return _AugmentedOp(self.base.subset(idx), self.w[idx])

    def trace(self) -> torch.Tensor | None:
        return self.base.trace()  # tr(J_p) = 0

    def root_norms(self, mu: torch.Tensor, num: int) -> torch.Tensor:
        # ‖(Ã − μI)^k‖₁ = max(‖(A − μI)^k‖₁ (first n columns), norms of the last p columns (computed directly))
        base = self.base.root_norms(mu, num)
        g, n0, p = self.w.shape[0], self.base.n, self.p
        w_norm = self.w.detach().abs().sum(-2).amax(-1).double()
        scale = torch.maximum(base[:, 0], w_norm + mu.abs() + 1.0).clamp_min(1e-300)  # ≥ ‖Ã − μI‖₁
        z = torch.zeros(g, p, self.n, dtype=self.dtype, device=self.device)
        z[:, torch.arange(p), n0 + torch.arange(p)] = 1.0
        mu_x = mu.to(self.dtype).view(-1, 1, 1)
        inv_scale = (1.0 / scale).to(self.dtype).view(-1, 1, 1)
        cols = []
        for k in range(1, num + 1):
            z = (self.apply(z) - mu_x * z) * inv_scale
            cols.append(scale * z.abs().sum(-1).amax(-1).double() ** (1.0 / k))
        return torch.maximum(base, torch.stack(cols, dim=-1))


# ---------------------------------------------------------------------------------------------------------------
# norms
# ---------------------------------------------------------------------------------------------------------------


def _exact_root_norms(mat: torch.Tensor, mu: torch.Tensor, num: int) -> torch.Tensor:
    """``‖(M_g − μ_g I)^p‖₁^{1/p}``, p = 1 … num, from batched powers of ``M [g, n, n]`` (float64, rescaled by
    ``‖M_g − μ_g I‖₁`` so that the powers cannot overflow). Returns ``[g, num]``."""
    n = mat.shape[-1]
    diag = mat.diagonal(dim1=-2, dim2=-1).double()
    # column sums of |M − μI| without forming it: replace |m_jj| by |m_jj − μ|
    colsum = mat.abs().sum(-2).double() - diag.abs() + (diag - mu.unsqueeze(-1)).abs()
    norm1 = colsum.amax(-1)
    if num == 1:
        return norm1.unsqueeze(-1)
    m = mat.double() - mu.view(-1, 1, 1) * torch.eye(n, dtype=torch.float64, device=mat.device)
    safe = torch.where(norm1 > 0, norm1, torch.ones_like(norm1))
    ms = m / safe.view(-1, 1, 1)
    out = [norm1]
    power = ms
    for p in range(2, num + 1):
        power = torch.matmul(power, ms)
        out.append(safe * power.abs().sum(-2).amax(-1) ** (1.0 / p))
    return torch.stack(out, dim=-1)


def _onenormest_power(apply: Callable[[torch.Tensor], torch.Tensor],
                      apply_t: Callable[[torch.Tensor], torch.Tensor], power: int, n: int, g: int,
                      dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Lower-bound estimates ``[g]`` of ``‖A_g^power‖₁`` (Higham & Tisseur 2000, Algorithm 2.4, batched over g).

    ``apply``/``apply_t`` act on ``[g, t, n]`` blocks. Iterations stop when no group's estimate increased or no
    group has an unvisited unit vector left; the estimate is the largest column norm seen.
    """
    t = min(_NORMEST_BLOCK, n)
    gen = torch.Generator().manual_seed(20110488)
    x = torch.ones(g, t, n, dtype=dtype)
    if t > 1:
        x[:, 1:, :] = torch.randint(0, 2, (g, t - 1, n), generator=gen).to(dtype) * 2 - 1
    x = (x / n).to(device)
    est = torch.zeros(g, dtype=torch.float64, device=device)
    used = torch.zeros(g, n, dtype=torch.bool, device=device)
    for it in range(_NORMEST_ITMAX):
        y = x
        for _ in range(power):
            y = apply(y)
        est_it = y.abs().sum(-1).amax(-1).double()
        improved = est_it > est
        est = torch.maximum(est, est_it)
        if (it > 0 and not bool(improved.any())) or it == _NORMEST_ITMAX - 1:
            break
        z = torch.where(y >= 0, torch.ones_like(y), -torch.ones_like(y))
        for _ in range(power):
            z = apply_t(z)
        h = z.abs().amax(-2).double().masked_fill(used, -1.0)  # ‖row i of Z‖_∞, visited rows excluded
        top = h.topk(t, dim=-1).indices
        if not bool((h.gather(-1, top) >= 0).any()):
            break
        used.scatter_(-1, top, True)
        x = torch.zeros(g, t, n, dtype=dtype, device=device)
        x.scatter_(-1, top.unsqueeze(-1), 1.0)
    return est


def _estimate_root_norms(apply: Callable[[torch.Tensor], torch.Tensor],
                         apply_t: Callable[[torch.Tensor], torch.Tensor], n: int, g: int, num: int,
                         dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Estimated ``d_p = ‖A^p‖₁^{1/p}``, p = 1 … num, ``[g, num]``; powers of ``A/‖A‖₁`` avoid overflow."""
    norm1 = _onenormest_power(apply, apply_t, 1, n, g, dtype, device)
    safe = torch.where(norm1 > 0, norm1, torch.ones_like(norm1))
    inv = (1.0 / safe).to(dtype).view(-1, 1, 1)
    out = [norm1]
    for p in range(2, num + 1):
        est = _onenormest_power(lambda x: apply(x) * inv, lambda x: apply_t(x) * inv, p, n, g, dtype, device)
        out.append(safe * est ** (1.0 / p))
    return torch.stack(out, dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# (m*, s) selection and the Taylor loop
# ---------------------------------------------------------------------------------------------------------------


def _select_degree(norm1: torch.Tensor, root_norms: Callable[[torch.Tensor], torch.Tensor], abs_t: torch.Tensor,
                   n0: int, m_max: int, p_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group ``(m*, s)`` (long ``[g]`` each) from ``norm1 = ‖t(A − μI)‖₁ [g]`` (float64).

    ``root_norms(idx)`` returns the unscaled ``d_p``, p = 1 … p_max+1, ``[len(idx), p_max+1]`` for the groups
    ``idx``; it is called only for the groups that fail condition (3.13).
    """
    dev = norm1.device
    theta = torch.tensor(THETA_DOUBLE[:m_max], dtype=torch.float64, device=dev)
    ms = torch.arange(1, m_max + 1, dtype=torch.float64, device=dev)
    # condition (3.13) holds: α_p = ‖tA‖₁ for every p, all m = 1 … m_max allowed
    s_a = torch.ceil(norm1.unsqueeze(-1) / theta)
    m_idx = torch.argmin(ms * s_a, dim=-1)
    m_star = m_idx + 1
    s = s_a.gather(-1, m_idx.unsqueeze(-1)).squeeze(-1)
    bound = 2 * _ELL * p_max * (p_max + 3) * THETA_DOUBLE[m_max - 1] / (n0 * m_max)
    need = norm1 > bound
    if bool(need.any()):
        idx = need.nonzero().squeeze(-1)
        d = root_norms(idx) * abs_t[idx].unsqueeze(-1)
        d = torch.nan_to_num(d, nan=math.inf).minimum(norm1[idx].unsqueeze(-1))  # d_p ≤ ‖tA‖₁ always
        alpha = torch.maximum(d[:, 1:p_max], d[:, 2:p_max + 1])  # α_p, p = 2 … p_max
        ps = torch.arange(2, p_max + 1, device=dev)
        valid = ms.unsqueeze(0) >= (ps * (ps - 1) - 1).unsqueeze(-1)  # [p, m]: m ≥ p(p−1)−1
        s_b = torch.ceil(alpha.unsqueeze(-1) / theta)  # [g, p, m]
        cost = torch.where(valid, ms * s_b, torch.full_like(s_b, math.inf))
        flat = torch.argmin(cost.flatten(1), dim=-1)  # first minimum in (p, m) order
        m_b = flat % m_max
        m_star[idx] = m_b + 1
        s[idx] = s_b.flatten(1).gather(-1, flat.unsqueeze(-1)).squeeze(-1)
    s = s.clamp_min(1.0)
    zero = norm1 == 0  # t = 0 or A = μI: one (exact) Taylor term keeps the derivatives exact
    m_star = torch.where(zero, torch.ones_like(m_star), m_star)
    s = torch.where(zero, torch.ones_like(s), s)
    if not bool(torch.isfinite(s).all()):
        raise ValidationError("expmv: ‖tA‖₁ is not finite (overflow); scale A or t down")
    return m_star, s.long()


def _inf_norm(x: torch.Tensor) -> torch.Tensor:
    """``‖X_g‖_∞`` of each group's ``n × k`` block (max over the n rows of Σ over the k vectors): ``[g]``."""
    if x.shape[-2] == 1:
        return x.detach().abs().flatten(1).amax(-1)
    return x.detach().abs().sum(-2).amax(-1)


def _taylor_step(op: _Op, f: torch.Tensor, t: torch.Tensor, s: torch.Tensor, m_star: torch.Tensor,
                 tol: float) -> torch.Tensor:
    """One scaling step ``F ← T_{m*}(t_g A_g / s_g) F`` for ``f [g, k, n]`` with per-group early termination
    (Algorithm 3.2, inner loop): a group stops once two consecutive terms satisfy ``c1 + c2 ≤ tol ‖F‖_∞``."""
    shape = (-1, 1, 1)
    m_cap = int(m_star.max())
    ks = torch.arange(1, m_cap + 1, device=f.device)
    coefs = t.unsqueeze(0) / (s.to(t.dtype).unsqueeze(0) * ks.to(t.dtype).unsqueeze(-1))  # [m_cap, g]: t/(s k)
    allowed = m_star.unsqueeze(0) >= ks.unsqueeze(-1)  # [m_cap, g]: k ≤ m*_g
    term = f
    c1 = _inf_norm(term)
    active = allowed[0]
    out: torch.Tensor | None = None  # the full result while finished groups are set aside
    rows = torch.arange(f.shape[0], device=f.device)  # positions of the working groups in the result
    for k in range(m_cap):
        active = active & allowed[k]
        n_active = int(active.sum())
        if n_active == 0:
            break
        if n_active <= active.shape[0] // 2 and active.shape[0] >= _COMPACT_MIN_GROUPS:
            # at most half the groups still run: set the finished ones aside, work on the others only
            out = f if out is None else out.index_copy(0, rows, f)
            keep = active.nonzero().squeeze(-1)
            rows, f, term, c1 = rows[keep], f[keep], term[keep], c1[keep]
            coefs, allowed, active = coefs[:, keep], allowed[:, keep], active[keep]
            op = op.subset(keep)
        term = (coefs[k] * active).view(shape) * op.apply(term)  # finished groups get exact zeros
        f = f + term
        c2 = _inf_norm(term)
        active = active & (c1 + c2 > tol * _inf_norm(f))
        c1 = c2
    return f if out is None else out.index_copy(0, rows, f)


def _taylor(op: _Op, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, m_star: torch.Tensor, s: torch.Tensor,
            tol: float) -> torch.Tensor:
    """Algorithm 3.2 lines 9–20 vectorised over groups: ``F = e^{t_g A_g} X_g`` for ``x [g, k, n]``.

    The shift is folded into the operator (``A − μ_g I``); scaling step ``i`` runs only on the groups with
    ``s_g > i`` (the others are set aside, so the operator is applied to fewer rows).
    """
    if bool((mu != 0).any()):
        op = op.shifted(mu.to(x.dtype))
    eta = torch.exp(t * mu.to(x.dtype) / s.to(x.dtype))
    f = x
    for i in range(int(s.max())):
        keep = s > i
        if bool(keep.all()):
            f = eta.view(-1, 1, 1) * _taylor_step(op, f, t, s, m_star, tol)
            continue
        rows = keep.nonzero().squeeze(-1)
        step = _taylor_step(op.subset(rows), f.index_select(0, rows), t[rows], s[rows], m_star[rows], tol)
        f = f.index_copy(0, rows, eta[rows].view(-1, 1, 1) * step)
    return f


def _expmv_groups(op: _Op, x: torch.Tensor, t: torch.Tensor, shift: bool, m_max: int, p_max: int,
                  tol: float, max_matvecs: int | None) -> torch.Tensor:
    """``e^{t_g A_g} X_g`` for ``x [g, k, n]`` and ``t [g]``: shift, ``(m*, s)`` per group, Taylor loop."""
    g, k = x.shape[0], x.shape[1]
    with torch.no_grad():
        abs_t = t.detach().double().abs()
        zeros = torch.zeros(g, dtype=torch.float64, device=x.device)
        mu = zeros
        norm_a = op.root_norms(zeros, 1)[:, 0]
        trace = op.trace() if shift else None
        if trace is not None:
            mu_c = (trace / op.n).expand(g).to(x.device)
            norm_mu = op.root_norms(mu_c, 1)[:, 0]
            use = norm_mu < norm_a  # shift only where it reduces ‖A‖₁
            mu = torch.where(use, mu_c, zeros)
            norm_a = torch.where(use, norm_mu, norm_a)
        norm1 = abs_t * norm_a
        if not bool(torch.isfinite(norm1).all()):
            raise ValidationError("expmv: ‖tA‖₁ is not finite (overflow); scale A or t down")
        m_star, s = _select_degree(norm1, lambda idx: op.subset(idx).root_norms(mu[idx], p_max + 1), abs_t, k,
                                   m_max, p_max)
        work = int((m_star * s).max())
        if max_matvecs is not None and work > max_matvecs:
            raise ValidationError(
                f"expmv: ‖tA‖₁ = {float(norm1.max()):.3g} needs about {work} operator applications (m* = "
                f"{int(m_star.max())}, s = {int(s.max())} scaling steps), more than max_matvecs = {max_matvecs}; "
                "shorten t (take smaller steps), rescale A, or raise max_matvecs (None: no cap)")
    return _taylor(op, x, t, mu, m_star, s, tol)


# ---------------------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------------------


def _check_dtype(x: torch.Tensor, name: str) -> None:
    if x.is_complex():
        raise InputTypeError(f"{name}: complex tensors are not supported (got {x.dtype}); split into real and "
                             "imaginary parts or use a real formulation")
    if x.dtype not in _TOL:
        raise InputTypeError(f"{name}: dtype must be torch.float32 or torch.float64, got {x.dtype}; convert with "
                             ".double() or .float()")


def _check_finite(x: torch.Tensor, name: str) -> None:
    if bool(torch.isfinite(x.detach().sum())):  # fast path: a finite sum implies finite entries
        return
    if not bool(torch.isfinite(x).all()):
        raise ValidationError(f"{name} contains NaN or Inf entries; all entries must be finite")


def _check_vector(b: Any, name: str) -> torch.Tensor:
    if not isinstance(b, torch.Tensor):
        raise InputTypeError(f"{name} must be a torch.Tensor [n] or [B, n], got {type(b).__name__}; "
                             "wrap it with torch.as_tensor(..., dtype=torch.float64)")
    _check_dtype(b, name)
    if b.dim() not in (1, 2) or b.shape[-1] == 0:
        raise ValidationError(f"{name} must have shape [n] or [B, n] with n ≥ 1, got {list(b.shape)}")
    _check_finite(b, name)
    return b


def _check_orders(m_max: int, p_max: int) -> None:
    for name, val in (("m_max", m_max), ("p_max", p_max)):
        if isinstance(val, bool) or not isinstance(val, int):
            raise InputTypeError(f"expmv: {name} must be an int, got {type(val).__name__}")
    if not 1 <= m_max <= len(THETA_DOUBLE):
        raise ValidationError(f"expmv: m_max must be in 1 … {len(THETA_DOUBLE)} (the θ_m table), got {m_max}")
    if p_max < 2 or m_max + 1 < p_max * (p_max - 1):
        raise ValidationError(f"expmv: need p_max ≥ 2 and m_max + 1 ≥ p_max (p_max − 1); got m_max={m_max}, "
                              f"p_max={p_max} (the defaults are m_max=55, p_max=8)")


def _check_cap(max_matvecs: Any) -> None:
    if max_matvecs is None:
        return
    if isinstance(max_matvecs, bool) or not isinstance(max_matvecs, int):
        raise InputTypeError(f"expmv: max_matvecs must be an int or None, got {type(max_matvecs).__name__}")
    if max_matvecs < 1:
        raise ValidationError(f"expmv: max_matvecs must be >= 1 (or None for no cap), got {max_matvecs}")


def _make_op(a: OperatorLike, b: torch.Tensor) -> _Op:
    """Validate ``A`` against ``b`` and wrap it as an internal operator."""
    n = int(b.shape[-1])
    batch = int(b.shape[0]) if b.dim() == 2 else None
    if isinstance(a, torch.Tensor):
        _check_dtype(a, "A")
        if a.dim() not in (2, 3):
            raise ValidationError(f"A must be a square matrix [n, n] or a batch [B, n, n], got shape "
                                  f"{list(a.shape)}")
        if a.shape[-1] != a.shape[-2]:
            raise ValidationError(f"A must be square, got shape {list(a.shape)} (last two dims differ)")
        if a.shape[-1] != n:
            raise ValidationError(f"A is {a.shape[-1]}×{a.shape[-1]} but b has n = {n} (shape {list(b.shape)}); "
                                  "the last dims must match")
        if a.dim() == 3 and a.shape[0] != batch:
            raise ValidationError(f"per-sample A [B, n, n] has B = {a.shape[0]} but b has shape {list(b.shape)}; "
                                  "pass b as [B, n] with the same B")
        op: _Op = _DenseOp(a)
        like = a
    elif isinstance(a, Diagonal):
        d = a.diag
        if d.shape[-1] != n:
            raise ValidationError(f"Diagonal has n = {d.shape[-1]} but b has n = {n} (shape {list(b.shape)})")
        if d.dim() == 2 and d.shape[0] != batch:
            raise ValidationError(f"per-sample Diagonal [B, n] has B = {d.shape[0]} but b has shape "
                                  f"{list(b.shape)}; pass b as [B, n] with the same B")
        op = _DiagOp(d)
        like = d
    elif isinstance(a, LinearOperator):
        if a.dim != n:
            raise ValidationError(f"LinearOperator has dim {a.dim} but b has n = {n} (shape {list(b.shape)})")
        return _LinOp(a, b)
    else:
        raise InputTypeError(f"A must be a torch.Tensor [n, n] / [B, n, n], a Diagonal or a LinearOperator, got "
                             f"{type(a).__name__}; wrap arrays with torch.as_tensor, matrix-free operators with "
                             "LinearOperator(matvec, dim)")
    if like.dtype != b.dtype:
        raise InputTypeError(f"A has dtype {like.dtype} but b has dtype {b.dtype}; use one dtype for both")
    if like.device != b.device:
        raise ValidationError(f"A is on {like.device} but b is on {b.device}; move both to one device")
    if isinstance(a, torch.Tensor):
        _check_finite(a, "A")
    return op


def _check_t(t: Any, b: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a tensor in b's dtype/device (0-dim or ``[B]``) and whether it is per-sample."""
    if isinstance(t, torch.Tensor):
        if t.is_complex() or t.dtype == torch.bool:
            raise InputTypeError(f"t must be real, got dtype {t.dtype}")
        if t.dim() > 1 or (t.dim() == 1 and (b.dim() != 2 or t.shape[0] != b.shape[0])):
            raise ValidationError(f"t must be a float, a 0-dim tensor or a tensor [B] with one time per sample "
                                  f"(b [B, n]); got t of shape {list(t.shape)} for b of shape {list(b.shape)}")
        _check_finite(t, "t")
        return t.to(dtype=b.dtype, device=b.device), t.dim() == 1
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise InputTypeError(f"t must be a float or a tensor [B], got {type(t).__name__}")
    if not math.isfinite(float(t)):
        raise ValidationError(f"t must be finite, got {t}")
    return torch.tensor(float(t), dtype=b.dtype, device=b.device), False


# ---------------------------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------------------------


def expmv(A: OperatorLike, b: torch.Tensor, t: float | torch.Tensor = 1.0, *, shift: bool = True,
          m_max: int = 55, p_max: int = 8, max_matvecs: int | None = MAX_MATVECS) -> torch.Tensor:
    """``e^{tA} b`` without forming ``e^{tA}`` (Al-Mohy & Higham 2011, Algorithm 3.2; see the module docstring).

    Args:
        A: a dense tensor ``[n, n]`` (shared by all vectors) or ``[B, n, n]`` (one matrix per sample), a
            :class:`Diagonal` (``[n]`` or ``[B, n]``) or a :class:`LinearOperator` (shared). Same dtype as ``b``.
        b: ``[n]`` or ``[B, n]`` (B vectors), float32 or float64 (sets ``tol`` = 2^-24 or 2^-53).
        t: a float, a 0-dim tensor or a tensor ``[B]`` (one time per sample, needs ``b [B, n]``); any finite
            value, ``t = 0`` returns ``b``.
        shift: use the trace shift ``μ = tr(A)/n`` (where it reduces ``‖A‖₁``); a :class:`LinearOperator` is
            shifted only when its ``trace`` is given.
        m_max, p_max: largest Taylor degree (≤ 55) and largest ``p`` in ``d_p`` (``m_max + 1 ≥ p_max(p_max−1)``).
        max_matvecs: cap on the operator applications ``m*·s`` (default :data:`MAX_MATVECS`); a larger
            ``‖tA‖₁`` raises :class:`~pysciml.errors.ValidationError` before any work. ``None``: no cap.

    Returns:
        ``e^{tA} b`` with ``b``'s shape. With a shared ``A`` and a scalar ``t`` the ``B`` vectors form one
        ``n × B`` block (one ``(m*, s)``); per-sample ``A`` or ``t`` choose ``(m*, s)`` per sample. A
        :class:`Diagonal` gives ``exp(t d) ⊙ b`` directly. Differentiable w.r.t. ``A``, ``b`` and ``t``.

    Raises:
        InputTypeError: wrong types / dtypes. ValidationError: shapes, non-finite values, bad ``m_max``/``p_max``,
        work beyond ``max_matvecs``.
    """
    b = _check_vector(b, "b")
    _check_orders(m_max, p_max)
    _check_cap(max_matvecs)
    if not isinstance(shift, bool):
        raise InputTypeError(f"expmv: shift must be True or False, got {type(shift).__name__}")
    op = _make_op(A, b)
    t_x, per_sample_t = _check_t(t, b)
    if b.numel() == 0:  # B = 0
        return b.clone()
    if isinstance(op, _DiagOp):
        tt = t_x.unsqueeze(-1) if per_sample_t else t_x
        return torch.exp(tt * op.d) * b
    n = op.n
    if op.batch is not None or per_sample_t:
        x = b.reshape(-1, 1, n)
    else:
        x = b.reshape(1, -1, n)
    t_g = t_x.expand(x.shape[0])
    out = _expmv_groups(op, x, t_g, shift, m_max, p_max, _TOL[b.dtype], max_matvecs)
    return out.reshape(b.shape)


def phimv(A: OperatorLike, b: torch.Tensor, ws: Sequence[torch.Tensor],
          t: float | torch.Tensor = 1.0, *, max_matvecs: int | None = MAX_MATVECS) -> torch.Tensor:
    """``e^{tA} b + Σ_{k=1}^{p} t^k φ_k(tA) w_k`` with ``p = len(ws)``, by one :func:`expmv` of the augmented
    operator of Al-Mohy & Higham (2011), Theorem 2.1.

    ``Ã = [[A, W], [0, J_p]]`` (``J_p`` the ``p × p`` upper shift) is applied matrix-free,
    ``Ã [x; y] = [A x + W y; J_p y]``, with the columns of ``W`` in reverse order, ``W = [w_p, …, w_1]``, so that
    ``[I 0] e^{tÃ} [b; e_p]`` pairs ``w_k`` with ``t^k φ_k(tA)``; ``W`` is balanced by a power of two. E.g.
    exponential Euler for ``u' = A u + N(u)`` is ``phimv(A, u, [N(u)], h)``.

    Args:
        A: as in :func:`expmv` (dense ``[n, n]`` / ``[B, n, n]``, :class:`Diagonal`, :class:`LinearOperator`).
        b: ``[n]`` or ``[B, n]``.
        ws: a list/tuple of ``p ≥ 0`` tensors, each with ``b``'s shape and dtype (``ws = []`` is :func:`expmv`).
        t: a float, a 0-dim tensor or ``[B]`` (per sample).
        max_matvecs: cap on the work, as in :func:`expmv`.

    Returns:
        A tensor with ``b``'s shape. With ``b [B, n]`` the ``(m*, s)`` choice and the stopping test are per
        sample (each sample has its own ``W``). Differentiable w.r.t. ``A``, ``b``, the ``ws`` and ``t``.
    """
    b = _check_vector(b, "b")
    _check_cap(max_matvecs)
    if isinstance(ws, torch.Tensor) or not isinstance(ws, Sequence):
        raise InputTypeError(f"phimv: ws must be a list or tuple of tensors (each shaped like b), got "
                             f"{type(ws).__name__}; e.g. pass [w1] or list(w_stack)")
    for i, w in enumerate(ws):
        name = f"ws[{i}]"
        if not isinstance(w, torch.Tensor):
            raise InputTypeError(f"phimv: {name} must be a torch.Tensor shaped like b, got {type(w).__name__}")
        if w.shape != b.shape:
            raise ValidationError(f"phimv: {name} has shape {list(w.shape)} but b has {list(b.shape)}; each w_k "
                                  "must have b's shape")
        if w.dtype != b.dtype:
            raise InputTypeError(f"phimv: {name} has dtype {w.dtype} but b has {b.dtype}; use one dtype")
        _check_finite(w, f"phimv: {name}")
    p = len(ws)
    if p == 0:
        return expmv(A, b, t, max_matvecs=max_matvecs)
    op = _make_op(A, b)
    t_x, _ = _check_t(t, b)
    if b.numel() == 0:  # B = 0
        return b.clone()
    n = op.n
    x = b.reshape(-1, 1, n)
    g = x.shape[0]
    w = torch.stack([ws[p - 1 - j] for j in range(p)], dim=-1).reshape(g, n, p)  # W = [w_p, …, w_1]
    with torch.no_grad():
        norm_a = op.root_norms(torch.zeros(g, dtype=torch.float64, device=b.device), 1)[:, 0]
        w_norm = w.detach().abs().sum(-2).amax(-1).double()
        ratio = torch.where(w_norm > 0, norm_a.clamp_min(1.0) / w_norm, torch.ones_like(w_norm))
        lim = 500 if b.dtype == torch.float64 else 60  # keep η, 1/η and ηW representable
        eta = torch.exp2(torch.round(torch.log2(ratio)).clamp(-lim, lim)).to(b.dtype)  # ‖ηW‖₁ ≈ max(‖A‖₁, 1)
    aug = _AugmentedOp(op, w * eta.view(-1, 1, 1))
    y0 = torch.zeros(g, 1, p, dtype=b.dtype, device=b.device)
    y0[..., -1] = (1.0 / eta).view(-1, 1)
    z = _expmv_groups(aug, torch.cat([x, y0], dim=-1), t_x.expand(g), True, 55, 8, _TOL[b.dtype],
                      max_matvecs)
    return z[..., :n].reshape(b.shape)
