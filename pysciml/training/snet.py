"""SNet training: the relaxed, spectrally discretised neural-ODE problem (δ-SNet and α-SNet).

Quaglino, Gallieri, Masci & Koutník, "SNODE: Spectral Discretization of Neural ODEs for System
Identification" (ICLR 2020, arXiv:1906.07038), §3–4, Algorithms 1–2. The trajectory of every sample is a
Legendre series on a :class:`~pysciml.spectral.SpectralMesh`, stored by its values ``x(t_Q)`` at the
Gauss–Lobatto nodes. With the ODE-Net ``ẋ = f(t, x, u; θ)`` the residual at the nodes is (eq. (7))

    r(t_q) = (D M⁻¹ x(t_Q))_q − f(t_q, x(t_q), u(t_q); θ),
    R(x, θ) = mean_batch (1 / (t_1 − t_0)) Σ_e Σ_q w_q mean_state r(t_q)²      (quadrature of eq. (3)),

and the data loss at the sample times ``t_k`` (any times in the mesh, not necessarily nodes) is
``L(x) = mean_{batch, k, state} (x(t_k) − y_k)²`` with ``x(t_k)`` from the series (least-squares form of §4).

* **δ-SNet** (Algorithm 1): ``x* = argmin_x L(x)`` once (closed-form least squares, ``x(t_0) = y_0`` pinned when
  the first sample is at ``t_0``), then Adam steps on ``R(x*, θ)`` over ``θ`` until ``R < δ``.
* **α-SNet** (Algorithm 2): the same start, perturbed by ``ξ ~ U(−ε, ε)`` (the paper's ε = 0.1), then
  alternating ``n_x`` SGD steps on ``γ L(x) + R(x, θ)`` over ``x`` and ``n_t`` Adam steps on ``R(x, θ)`` over
  ``θ`` until ``γ L + R < δ``. The ``x`` sub-problem separates over trajectories; its objective is multiplied
  by the number of data values ``B · K · n`` so that the SGD step does not shrink with batch and sample
  count (the minimiser is unchanged).

One iteration of α-SNet is ``n_x + n_t`` steps (as in the paper's Table 1). Extensions are the shared
:class:`~pysciml.training.callbacks.Callback` objects of the other trainers, with one iteration as the epoch:
``on_fit_start`` (``trainer.optimizer`` is the Adam optimiser of ``θ``), ``loss_terms(trainer, x)`` (extra
terms added to ``R`` in every ``θ`` step; ``x`` the nodal trajectory ``[B, N, n]``), ``on_step`` after every
``θ`` step, ``on_validation`` and ``on_epoch_end`` with the iteration's record (set ``trainer.stop_training``
to stop), ``on_fit_end``; their ``state_dict`` travels in the checkpoint. ``lr_decay`` is an
:class:`~pysciml.training.callbacks.ExponentialDecay` per iteration unless a scheduler callback is given.

Inputs ``u(t)`` are given as samples at the data times (fitted to a Legendre series like ``x``, §4 eq. (5))
or as a callable ``u(t [B, K]) → [B, K, n_u]`` (exact values at the nodes). The field is called on all nodes of
all samples at once, batch-first: ``f(t [P], x [P, n])`` or
``f(t [P], x [P, n], u [P, n_u])`` with ``P = B · E · (p + 1)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, InputTypeError, ValidationError
from ..spectral import SpectralMesh
from ..validation import check_choice, check_positive_int
from ._common import check_real
from .callbacks import Callback, add_loss_terms, callback_list, callback_states, load_callback_states
from .checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from .metrics import plot_loss_curve, write_jsonl

__all__ = ["SNetResult", "SNetTrainer"]

CHECKPOINT_NAME = "snet_checkpoint.pt"
METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "loss_curve.png"

@dataclass
class SNetResult:
    """Outcome of :meth:`SNetTrainer.fit`: per-iteration ``history``, whether the tolerance ``δ`` was met."""

    history: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False
    iterations: int = 0
    out_dir: Path | None = None


class SNetTrainer:
    """Train the vector field ``model`` on trajectories ``y [B, K, n]`` sampled at times ``t [K]``.

    Args:
        model: ``nn.Module`` field ``f(t, x)`` or, with ``inputs``, ``f(t, x, u)`` (batch-first, see module doc).
        t: sample times ``[K]`` (shared by the batch), inside ``t_span`` (default ``(t[0], t[-1])``).
        y: observations ``[B, K, n]``.
        inputs: ``None``, samples ``[B, K, n_u]`` at ``t``, or a callable ``u(t [B, Q]) -> [B, Q, n_u]``.
        method: ``"delta"`` (Algorithm 1) or ``"alpha"`` (Algorithm 2).
        p, n_elements: order and number of spectral elements (the paper: ``p = 14``, one element).
        delta: stopping tolerance on ``R`` (δ-SNet) or ``γ L + R`` (α-SNet).
        max_iters: iteration budget. lr, lr_decay: Adam learning rate for ``θ`` and its per-iteration decay.
        gamma, n_x, n_t, lr_x, perturbation: α-SNet's weight of ``L``, SGD steps on ``x``, Adam steps on ``θ``
            per iteration, SGD learning rate and initial perturbation half-width (paper: 3, 10, 10, 1e-3, 0.1).
        pin_start: keep ``x(t_0) = y_0`` (needs the first sample at ``t_0``; default: when it is).
        callbacks: :class:`~pysciml.training.callbacks.Callback` objects (an iteration is their epoch; see the
            module doc), e.g. :class:`~pysciml.training.callbacks.EarlyStopping` on ``residual``/``objective``.
        out_dir, checkpoint_every: ``metrics.jsonl``, ``loss_curve.png`` and an atomic checkpoint every
            ``checkpoint_every`` iterations (``fit(resume=True)`` continues from it).
    """

    def __init__(self, model: nn.Module, t: Any, y: torch.Tensor, *, inputs: Any = None, method: str = "delta",
                 p: int = 14, n_elements: int = 1, t_span: tuple[float, float] | None = None,
                 delta: float = 0.0, max_iters: int = 1000, lr: float = 1e-2, lr_decay: float = 1.0,
                 gamma: float = 3.0, n_x: int = 10, n_t: int = 10, lr_x: float = 1e-3, perturbation: float = 0.1,
                 pin_start: bool | None = None, seed: int = 0, progress: bool = True,
                 callbacks: Sequence[Callback] = (), out_dir: str | Path | None = None,
                 checkpoint_every: int = 100) -> None:
        if not isinstance(model, nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module vector field, got {type(model).__name__}")
        if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.dim() != 3:
            raise ValidationError("y must be a floating torch.Tensor [batch, time, state] of observations")
        if not bool(torch.isfinite(y).all()):
            raise ValidationError("y contains non-finite values (NaN or Inf)")
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        if t.numel() != y.shape[1]:
            raise ValidationError(f"t has {t.numel()} times but y has {y.shape[1]} samples per trajectory")
        if t.numel() > 1 and not bool((torch.diff(t) > 0).all()):
            raise ValidationError("t must be strictly increasing")
        self.model, self.y, self.t = model, y, t
        self.method = check_choice(method, "method", ("delta", "alpha"))
        span = (float(t[0]), float(t[-1])) if t_span is None else t_span
        self.mesh = SpectralMesh(span, p=p, n_elements=n_elements, dtype=y.dtype)
        self.interp = self.mesh.interpolation_matrix(t, "t").to(y)              # [K, N]
        self.delta = check_real(delta, "delta", minimum=0.0)
        self.max_iters = check_positive_int(max_iters, "max_iters")
        self.lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
        self.lr_x = check_real(lr_x, "lr_x", minimum=0.0, strict_minimum=True)
        self.lr_decay = check_real(lr_decay, "lr_decay (per-iteration factor)", minimum=0.0, maximum=1.0,
                                   strict_minimum=True)
        self.gamma = check_real(gamma, "gamma", minimum=0.0, strict_minimum=True)
        self.n_x, self.n_t = check_positive_int(n_x, "n_x"), check_positive_int(n_t, "n_t")
        self.perturbation = check_real(perturbation, "perturbation", minimum=0.0)
        at_start = abs(float(t[0]) - self.mesh.t_span[0]) <= 1e-12 * max(1.0, abs(self.mesh.t_span[0]))
        if pin_start and not at_start:
            raise ValidationError("pin_start=True needs the first sample at t_span[0] (the initial state)")
        self.pin_start = at_start if pin_start is None else bool(pin_start)
        self.seed, self.progress = int(seed), bool(progress)
        self.callbacks = callback_list(callbacks, self.lr_decay)
        self.optimizer: torch.optim.Optimizer | None = None
        self.step, self.stop_training = 0, False
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.node_t = self.mesh.node_times().to(y).reshape(-1)                 # [E (p + 1)]
        self.u_nodes = self._input_nodes(inputs)                                # [B, E (p + 1), n_u] | None
        self.x = self.mesh.fit(t, y, pin_start=self.pin_start)                 # [B, N, n]

    # ------------------------------------------------------------------ inputs and field
    def _input_nodes(self, inputs: Any) -> torch.Tensor | None:
        b, q = self.y.shape[0], self.node_t.numel()
        if inputs is None:
            return None
        if callable(inputs) and not isinstance(inputs, torch.Tensor):
            vals = inputs(self.node_t.expand(b, q))
            if not isinstance(vals, torch.Tensor) or vals.dim() != 3 or vals.shape[:2] != (b, q):
                raise ValidationError(f"the input callable must map t [batch, Q] = [{b}, {q}] to [batch, Q, n_u], "
                                      f"got {tuple(vals.shape) if isinstance(vals, torch.Tensor) else vals!r}")
            return vals.to(self.y)
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
            raise ValidationError("inputs must be samples [batch, time, n_u] at the data times or a callable u(t)")
        if inputs.shape[:2] != self.y.shape[:2]:
            raise ValidationError(f"input series [batch, time] = {tuple(inputs.shape[:2])} does not match the "
                                  f"observations {tuple(self.y.shape[:2])}; sample u at the same times as y")
        nodal = self.mesh.fit(self.t, inputs.to(self.y))
        return self.mesh.element_values(nodal).reshape(b, q, -1)

    def field_at_nodes(self, x: torch.Tensor) -> torch.Tensor:
        """``f(t_q, x(t_q), u(t_q); θ)`` on every element node: nodal ``x [B, N, n]`` → ``[B, E, p + 1, n]``."""
        xe = self.mesh.element_values(x)
        shape = xe.shape
        flat_x = xe.reshape(-1, shape[-1])
        flat_t = self.node_t.repeat(shape[0])
        if self.u_nodes is None:
            out = self.model(flat_t, flat_x)
        else:
            out = self.model(flat_t, flat_x, self.u_nodes.reshape(-1, self.u_nodes.shape[-1]))
        if not isinstance(out, torch.Tensor) or out.shape != flat_x.shape:
            raise ValidationError(f"the field returned {tuple(out.shape) if isinstance(out, torch.Tensor) else out!r}"
                                  f" for states of shape {tuple(flat_x.shape)}; it must return [points, state] "
                                  f"like its input")
        return out.reshape(shape)

    # ------------------------------------------------------------------ losses
    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """``R(x, θ)``: batch mean of the time-averaged squared ODE residual (quadrature over the nodes)."""
        r = self.mesh.derivative(x) - self.field_at_nodes(x)
        span = self.mesh.t_span[1] - self.mesh.t_span[0]
        return self.mesh.integrate(r.pow(2).mean(-1)).mean() / span

    def data_loss(self, x: torch.Tensor) -> torch.Tensor:
        """``L(x)``: mean squared error of the series at the sample times against ``y``."""
        return (torch.einsum("kj,bjn->bkn", self.interp, x) - self.y).pow(2).mean()

    def trajectory(self, t: Any) -> torch.Tensor:
        """The current series ``x(t)`` at times ``t [T]`` inside the mesh: ``[B, T, n]``."""
        return self.mesh.evaluate(self.x.detach(), t)

    # ------------------------------------------------------------------ loop
    def _free_mask(self) -> torch.Tensor:
        mask = torch.ones_like(self.x)
        if self.pin_start:
            mask[:, 0] = 0.0
        return mask

    def monitor_key(self, record: dict[str, Any]) -> str:
        """The record key a callback monitors by default: ``objective`` (α-SNet) or ``residual`` (δ-SNet)."""
        return "objective" if "objective" in record else "residual"

    def fit(self, resume: bool = False) -> SNetResult:
        """Run δ- or α-SNet until the tolerance, ``max_iters`` or a callback's stop; the model holds the final ``θ``.

        Each history record has ``iteration``, ``time`` (seconds of optimisation so far), ``residual`` (R before
        the iteration's last Adam step, so that no extra field evaluation is timed), the callbacks' loss terms
        and, for α-SNet, ``data_loss`` (L) and ``objective`` (γ L + R).
        """
        from tqdm.auto import tqdm

        params = [q for q in self.model.parameters() if q.requires_grad]
        if not params:
            raise ValidationError("the model has no trainable parameters")
        opt_t = self.optimizer = torch.optim.Adam(params, lr=self.lr)
        self.step, self.stop_training = 0, False
        result = SNetResult(out_dir=self.out_dir)
        torch.manual_seed(self.seed)
        mask = self._free_mask()
        if self.method == "alpha" and self.perturbation > 0 and not resume:
            gen = torch.Generator().manual_seed(self.seed)
            xi = (torch.rand(self.x.shape, generator=gen, dtype=self.x.dtype) * 2 - 1) * self.perturbation
            self.x = self.x + xi.to(self.x) * mask
        x = self.x.clone().requires_grad_(self.method == "alpha")
        opt_x = torch.optim.SGD([x], lr=self.lr_x) if self.method == "alpha" else None
        for cb in self.callbacks:
            cb.on_fit_start(self)
        start, elapsed = 0, 0.0
        if resume:
            start, elapsed = self._resume(x, opt_t, opt_x, result)
        scale = float(self.y.numel())
        bar = tqdm(range(start, self.max_iters), desc=f"{self.method}-SNet", unit="it", initial=start,
                   total=self.max_iters, disable=not self.progress)
        for it in bar:
            tic = time.perf_counter()
            record: dict[str, Any] = {"iteration": it}
            if opt_x is not None:
                self._trajectory_steps(x, opt_x, params, mask, scale)
            xd = x.detach()
            for _ in range(self.n_t if opt_x is not None else 1):
                res, terms = self._theta_step(xd, it)
            elapsed += time.perf_counter() - tic
            record["residual"] = res                           # R before the last θ step (no extra evaluation)
            record.update(terms)
            if opt_x is not None:
                with torch.no_grad():
                    record["data_loss"] = float(self.data_loss(xd))
                record["objective"] = self.gamma * record["data_loss"] + record["residual"]
            record["time"] = elapsed
            for cb in self.callbacks:
                cb.on_validation(self, record)
            result.history.append(record)
            result.iterations = it + 1
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in ("residual", "objective")})
            self.x = xd
            result.converged = record.get("objective", record["residual"]) < self.delta
            for cb in self.callbacks:
                cb.on_epoch_end(self, record)
            stop = result.converged or self.stop_training
            self._write_outputs(it, x, opt_t, opt_x, result, force=stop or it == self.max_iters - 1)
            if stop:
                break
        bar.close()
        self.x = x.detach()
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _trajectory_steps(self, x: torch.Tensor, opt_x: torch.optim.Optimizer, params: list[torch.Tensor],
                          mask: torch.Tensor, scale: float) -> None:
        """α-SNet's ``n_x`` SGD steps on ``γ L(x) + R(x, θ)`` over ``x`` (``θ`` frozen)."""
        for q in params:
            q.requires_grad_(False)
        try:
            for _ in range(self.n_x):
                opt_x.zero_grad(set_to_none=True)
                obj = scale * (self.gamma * self.data_loss(x) + self.residual(x))
                obj.backward()
                x.grad.mul_(mask)
                opt_x.step()
        finally:
            for q in params:
                q.requires_grad_(True)

    def _theta_step(self, xd: torch.Tensor, it: int) -> tuple[float, dict[str, float]]:
        """One Adam step on ``R(x, θ)`` plus the callbacks' loss terms; returns ``R`` and the terms."""
        assert self.optimizer is not None
        self.optimizer.zero_grad(set_to_none=True)
        res = self.residual(xd)
        loss, terms = add_loss_terms(self.callbacks, self, xd, res)
        if not torch.isfinite(loss):
            raise ValidationError(f"non-finite residual at iteration {it}; lower lr or check the field")
        loss.backward()
        self.optimizer.step()
        self.step += 1
        for cb in self.callbacks:
            cb.on_step(self, self.step)
        return float(res.detach()), terms

    # ------------------------------------------------------------------ outputs
    def _write_outputs(self, it: int, x: torch.Tensor, opt_t: torch.optim.Optimizer,
                       opt_x: torch.optim.Optimizer | None, result: SNetResult, force: bool) -> None:
        if self.out_dir is None:
            return
        if force or (it + 1) % self.checkpoint_every == 0:
            write_jsonl(self.out_dir / METRICS_NAME, result.history)
            save_checkpoint(self.out_dir / CHECKPOINT_NAME, {
                "iteration": it, "method": self.method, "model": self.model.state_dict(), "x": x.detach(),
                "opt_theta": opt_t.state_dict(), "callbacks": callback_states(self.callbacks),
                "opt_x": None if opt_x is None else opt_x.state_dict(), "history": result.history,
                "rng": capture_rng_state()})
            # the shared plot draws train_loss and every other *_loss key as one panel of training terms
            curve = [{"epoch": r["iteration"], "train_loss": r.get("objective", r["residual"]),
                      "residual_loss": r["residual"], **({"data_loss": r["data_loss"]} if "data_loss" in r else {})}
                     for r in result.history]
            plot_loss_curve(curve, self.out_dir / PLOT_NAME)

    def _resume(self, x: torch.Tensor, opt_t: torch.optim.Optimizer,
                opt_x: torch.optim.Optimizer | None, result: SNetResult) -> tuple[int, float]:
        if self.out_dir is None:
            raise ValidationError("resume=True needs out_dir, the folder holding snet_checkpoint.pt")
        ckpt = load_checkpoint(self.out_dir / CHECKPOINT_NAME)
        try:
            if ckpt["method"] != self.method:
                raise ValueError(f"checkpoint is {ckpt['method']}-SNet, this trainer is {self.method}-SNet")
            self.model.load_state_dict(ckpt["model"])
            with torch.no_grad():
                x.copy_(ckpt["x"])
            opt_t.load_state_dict(ckpt["opt_theta"])
            if opt_x is not None:
                opt_x.load_state_dict(ckpt["opt_x"])
            result.history = list(ckpt["history"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"SNet checkpoint in {str(self.out_dir)!r} does not match this trainer ({exc});"
                                  f" use the same model, data and method, or start fresh") from exc
        load_callback_states(self.callbacks, ckpt.get("callbacks"), str(self.out_dir / CHECKPOINT_NAME))
        restore_rng_state(ckpt["rng"])
        self.step = sum(self.n_t if self.method == "alpha" else 1 for _ in result.history)
        self.x = x.detach().clone()
        last = result.history[-1] if result.history else {"iteration": -1, "time": 0.0}
        return int(last["iteration"]) + 1, float(last["time"])

