"""φ-functions of exponential integrators, for scalars (diagonal operators) and dense matrices.

``φ_0(z) = e^z`` and ``φ_k(z) = (φ_{k-1}(z) - 1/(k-1)!)/z``, so ``φ_k(0) = 1/k!`` (methods.md, notation).

* **Scalars / diagonals** — Kassam & Trefethen, "Fourth-order time-stepping for stiff PDEs", SIAM J. Sci.
  Comput. 26(4) (2005), §5: the closed-form expression cancels catastrophically for small ``|z|``, so it
  is averaged over ``M`` points ``z + r e^{iθ_j}`` on a circle around ``z`` (trapezoidal rule of the Cauchy
  integral; exact up to spectrally small error because ``φ_k`` is entire). For real ``z`` the points lie on
  the upper half circle and the real part is taken (``M/2`` evaluations); for complex ``z`` the full circle
  is used. Radius 1, ``M = 32`` (16 on the half circle): max relative error ~1e-13 for ``z ∈ [-1e3, 1]``
  (methods.md §10).
* **Dense matrices** — the block-triangular identity (Al-Mohy & Higham 2011, Theorem 2.1; Sidje 1998)::

      expm([[τL, τI, 0 ], [0, 0, τI], [0, 0, 0]])  has first block row  [e^{τL}, τφ_1(τL), τ²φ_2(τL)],

  and likewise for any ``p``: one ``torch.linalg.matrix_exp`` of size ``n(p+1)`` gives every
  ``τ^k φ_k(τL)``, ``k = 0..p``. Differentiable in ``L``.
"""

from __future__ import annotations

import math

import torch

from ..errors import ValidationError


def phi_functions(z: torch.Tensor, p: int, *, points: int = 32, radius: float = 1.0) -> torch.Tensor:
    """``[φ_0(z), …, φ_p(z)]`` stacked on a new last axis: ``z [...] -> [..., p + 1]``.

    Real ``z`` gives real values (half-circle contour, real part); complex ``z`` gives complex values
    (full-circle contour). Differentiable in ``z``. ``points`` is the number of contour points on the full
    circle (even).
    """
    if p < 0:
        raise ValidationError(f"p must be >= 0, got {p}")
    real = not z.is_complex()
    cdtype = torch.complex128 if z.dtype in (torch.float64, torch.complex128) else torch.complex64
    if real:
        theta = torch.pi * (torch.arange(points // 2, dtype=torch.float64) + 0.5) / (points // 2)
    else:
        theta = 2.0 * torch.pi * (torch.arange(points, dtype=torch.float64) + 0.5) / points
    shifts = (radius * torch.exp(1j * theta)).to(device=z.device, dtype=cdtype)
    w = z.to(cdtype).unsqueeze(-1) + shifts  # [..., M]
    phis = [torch.exp(w)]
    for k in range(1, p + 1):
        phis.append((phis[-1] - 1.0 / math.factorial(k - 1)) / w)
    out = torch.stack(phis, dim=-1).mean(dim=-2)  # [..., p + 1]
    return out.real if real else out


def phi_matrices(lin: torch.Tensor, tau: torch.Tensor, p: int) -> torch.Tensor:
    """``[τ^k φ_k(τ L)]_{k=0..p}`` for a dense ``L [n, n]`` and times ``tau [U]``: ``-> [U, p + 1, n, n]``.

    One matrix exponential of the ``n(p+1)``-square block matrix per time (batched over ``U``).
    """
    n = lin.shape[-1]
    size = n * (p + 1)
    tau = tau.to(lin.dtype)
    block = lin.new_zeros(tau.shape[0], size, size)
    block[:, :n, :n] = tau[:, None, None] * lin
    eye = torch.eye(n, dtype=lin.dtype, device=lin.device)
    for k in range(p):
        block[:, k * n:(k + 1) * n, (k + 1) * n:(k + 2) * n] = tau[:, None, None] * eye
    first_row = torch.linalg.matrix_exp(block)[:, :n, :]  # [U, n, n(p+1)]
    return first_row.reshape(tau.shape[0], n, p + 1, n).transpose(1, 2)
