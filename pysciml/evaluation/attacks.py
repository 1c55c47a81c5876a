"""Adversarial examples: the fast gradient sign method (FGSM) and projected gradient descent (PGD).

* FGSM (Goodfellow, Shlens & Szegedy, arXiv:1412.6572; eq. 8 of Josias & Brink, "Jacobian Norm Regularisation
  and Conditioning in Neural ODEs", SACAIR 2022): ``x_p = x + ε sign(∇_x L(x, y))`` with ``L`` the cross-entropy.
* PGD (Madry et al., arXiv:1706.06083): ``x_{k+1} = Π(x_k + α s_k)``, ``s_k = sign(g_k)`` (L∞) or
  ``g_k/‖g_k‖₂`` (L2), ``g_k = ∇_x L(x_k, y)``, ``Π`` the projection onto the ε-ball around ``x`` (then onto the
  input box when ``clip`` is given); optional uniform random start in the ball. The last iterate is returned.

Both work batch-wise for any ``nn.Module`` classifier ``x [n, ...] → logits [n, C]`` (e.g.
:class:`pysciml.models.NeuralODEClassifier` with any solver), in eval mode (restored afterwards), and never
write the parameters' ``.grad``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ValidationError
from ..validation import check_choice, check_positive_int
from ._classifier import check_clip, check_inputs, evaluating, input_gradient

__all__ = ["NORMS", "fgsm", "pgd"]

NORMS = ("linf", "l2")


def _check_epsilon(epsilon: Any) -> float:
    try:
        eps = float(epsilon)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"epsilon must be a number >= 0, got {epsilon!r}") from exc
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValidationError(f"epsilon must be finite and >= 0 (the perturbation budget), got {epsilon!r}")
    return eps


def _flat_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm, shaped to broadcast against ``v``."""
    return v.flatten(1).norm(dim=1).reshape(-1, *([1] * (v.ndim - 1)))


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    scale = (eps / _flat_norm(delta).clamp_min(torch.finfo(delta.dtype).tiny)).clamp(max=1.0)
    return delta * scale


def _apply(x0: torch.Tensor, delta: torch.Tensor, clip: tuple[float, float] | None) -> torch.Tensor:
    # Clipping after the ball projection keeps the ball: the box contains x0, and clamping each coordinate
    # towards an interval holding x0's coordinate can only shrink |x - x0| coordinate-wise.
    x = x0 + delta
    return x if clip is None else x.clamp(*clip)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, *,
         clip: tuple[float, float] | None = None, batch_size: int = 1024) -> torch.Tensor:
    """FGSM examples ``x + ε sign(∇_x CE(model(x), y))`` (clamped to ``clip``), same shape as ``x``.

    Args:
        model: classifier ``x [n, ...] → logits [n, C]`` in ``x``'s dtype and device.
        x: clean inputs ``[n, ...]``; y: labels ``[n]`` in ``0..C-1``.
        epsilon: L∞ budget ``ε >= 0`` (input units).
        clip: optional input range ``(low, high)``.
        batch_size: rows per forward/backward pass.
    """
    x, y = check_inputs(model, x, y)
    eps, box = _check_epsilon(epsilon), check_clip(clip, x)
    batch_size = check_positive_int(batch_size, "batch_size")
    out = []
    with evaluating(model):
        for xb, yb in zip(x.split(batch_size), y.split(batch_size), strict=True):
            out.append(_apply(xb, eps * input_gradient(model, xb, yb).sign(), box).detach())
    return torch.cat(out)


def _random_start(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    if norm == "linf":
        return (2 * torch.rand(x.shape, generator=gen, dtype=x.dtype, device=x.device) - 1) * eps
    # uniform in the L2 ball: a uniform direction times ε·U^(1/d)
    d = x[0].numel()
    g = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
    u = torch.rand((x.shape[0],), generator=gen, dtype=x.dtype, device=x.device) ** (1.0 / d)
    return g / _flat_norm(g).clamp_min(torch.finfo(x.dtype).tiny) * (eps * u).reshape(-1, *([1] * (x.ndim - 1)))


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, *, norm: str = "linf",
        steps: int = 10, step_size: float | None = None, random_start: bool = True,
        clip: tuple[float, float] | None = None, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
    """PGD examples in the ``norm``-ball of radius ``epsilon`` around ``x`` (and inside ``clip``).

    Args:
        norm: ``"linf"`` (steps ``α sign(g)``) or ``"l2"`` (steps ``α g/‖g‖₂``, norms over all non-batch dims).
        steps: number of gradient steps; step_size: ``α`` (default ``2.5 ε / steps``, Madry et al.).
        random_start: start from a uniform point of the ball (drawn from a generator seeded with ``seed``).
        Other arguments as :func:`fgsm`.

    Every returned row satisfies ``‖x_adv − x‖ ≤ ε`` in the chosen norm (up to rounding of ``x + δ``).
    """
    x, y = check_inputs(model, x, y)
    eps, box = _check_epsilon(epsilon), check_clip(clip, x)
    norm = check_choice(norm, "norm", NORMS)
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    alpha = 2.5 * eps / steps if step_size is None else float(step_size)
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValidationError(f"step_size must be finite and >= 0, got {step_size!r}")
    gen = torch.Generator(device=x.device).manual_seed(int(seed))
    out = []
    with evaluating(model):
        for x0, yb in zip(x.split(batch_size), y.split(batch_size), strict=True):
            delta = _random_start(x0, eps, norm, gen) if random_start else torch.zeros_like(x0)
            xk = _apply(x0, delta, box)
            for _ in range(steps):
                g = input_gradient(model, xk, yb)
                step = g.sign() if norm == "linf" else g / _flat_norm(g).clamp_min(torch.finfo(g.dtype).tiny)
                xk = _apply(x0, _project(xk + alpha * step - x0, eps, norm), box)
            out.append(xk.detach())
    return torch.cat(out)
