"""Chunked, graph-free rollouts of a model over a long time grid (the engine of :mod:`.rollout`).

A model is propagated chunk by chunk: each chunk is one :func:`pysciml.odeint` call on a slice of the time
grid that starts from the last state of the previous chunk, under ``torch.no_grad()``, so memory does not
grow with the horizon (only what the caller keeps of each chunk does). Trajectories that became non-finite
are dropped from later chunks (their rows stay NaN) instead of stopping the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..errors import InputTypeError, UnsupportedError, ValidationError
from ..validation import check_choice, check_positive_int

__all__ = ["Propagator", "is_latent_model", "make_propagator", "model_device", "model_dtype", "state_field"]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def model_dtype(model: Any, default: torch.dtype = torch.float64) -> torch.dtype:
    """Floating dtype of the model's first parameter (``default`` for parameter-free callables)."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            if p.is_floating_point():
                return p.dtype
    return default


def model_device(model: Any) -> torch.device:
    """Device of the model's first parameter (CPU for parameter-free callables)."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def is_latent_model(model: Any) -> bool:
    """A :class:`pysciml.models.StructurePreservingNODE`-like model: encoder, decoder and ``latent_field()``."""
    return all(hasattr(model, a) for a in ("encoder", "decoder")) and callable(getattr(model, "latent_field", None))


def _kind(model: Any, kind: str) -> str:
    kind = check_choice(kind, "kind", ("auto", "field", "rollout"))
    if kind != "auto":
        return kind
    if not callable(model):
        raise InputTypeError(f"model must be a vector field f(t, y) or a rollout model forward(y0, t), got "
                             f"{type(model).__name__}")
    if isinstance(model, nn.Module):
        from ..training.rollout import model_kind

        return model_kind(model)
    return "field"


def state_field(model: Any, kind: str = "auto") -> Field:
    """The learned vector field ``F_θ(t, y)`` in the data's coordinates (``y [B, d] -> [B, d]``).

    A field model is its own field; a rollout model must expose ``vector_field``, or be a structure-preserving
    model with identity encoder and decoder (then ``F_θ = A z + N(z)``). Models with a real autoencoder have no
    field in the data's coordinates: :class:`~pysciml.errors.UnsupportedError`.
    """
    if _kind(model, kind) == "field":
        return model
    if callable(getattr(model, "vector_field", None)):
        return model.vector_field
    if is_latent_model(model) and isinstance(model.encoder, nn.Identity) and isinstance(model.decoder, nn.Identity):
        return lambda t, y: model.latent_field()(t, y)
    raise UnsupportedError(f"{type(model).__name__} has no vector field in the data's coordinates (it evolves a "
                           "latent state through an autoencoder); offline and Jacobian errors need a field model, a "
                           "model with `vector_field`, or a structure-preserving model without autoencoder")


class Propagator:
    """Advances a batch of states of ``model`` over successive slices of a time grid, without graphs.

    Args:
        model: a vector field ``f(t, y)`` (integrated with ``method`` / ``solver_options``), a rollout model
            ``forward(y0 [B, d], t [k]) -> [B, k, d]``, or a structure-preserving model (encoder, latent
            ``SplitField``, decoder: the latent state is carried across chunks, so chunking does not re-encode).
            A generic rollout model is restarted from its decoded state at every chunk boundary.
        kind: ``"auto"`` (from ``forward``'s signature), ``"field"`` or ``"rollout"``.
        method: :func:`pysciml.odeint` method for fields and latent models (``None``: ``rk4`` for fields, the
            model's own method for latent models).
        solver_options: ``step_size``, ``rtol``, ``atol``, ``max_steps``... forwarded to ``odeint``.
    """

    def __init__(self, model: Any, kind: str = "auto", method: str | None = None,
                 solver_options: dict[str, Any] | None = None) -> None:
        self.model = model
        self.kind = _kind(model, kind)
        self.latent = self.kind == "rollout" and is_latent_model(model)
        self.options = dict(solver_options or {})
        if self.kind == "field":
            self.method = method or "rk4"
        elif self.latent:
            self.method = method or model.method
            self.options = {**model.solver_options, **self.options}
        else:
            if method is not None or self.options:
                raise ValidationError("method and solver options apply to vector fields and structure-preserving "
                                      f"models; {type(model).__name__} integrates itself (pass neither)")
            self.method = "model"

    def start(self, y0: torch.Tensor) -> torch.Tensor:
        """Initial carried state of ``y0 [B, d]`` (the latent code for latent models); a field is evaluated once
        on the first state to check that it returns a state of the same shape."""
        if self.kind == "field":
            out = self.model(torch.zeros(1, dtype=y0.dtype, device=y0.device), y0[:1])
            if not isinstance(out, torch.Tensor) or out.shape != y0[:1].shape:
                raise ValidationError(f"the vector field returns {getattr(out, 'shape', type(out).__name__)} for a "
                                      f"state of shape {tuple(y0[:1].shape)}; its dimension must match the data's")
        return self.model.encoder(y0) if self.latent else y0

    def _odeint(self, field: Any, state: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        from ..integrators import odeint

        opts = dict(self.options)
        step = opts.get("step_size")
        if step is not None and "max_steps" not in opts:  # a fixed-step chunk needs span/step steps (+ margin)
            opts["max_steps"] = max(10_000, 2 * math.ceil(float(t[-1] - t[0]) / float(step)) + 8)
        return odeint(field, state, t, method=self.method, **opts).ys

    def advance(self, state: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States at the times ``t [k]`` (``t[0]`` is the current time) → ``(ys [B, k, d], new carried state)``."""
        if self.kind == "field":
            ys = self._odeint(self.model, state, t)
            return ys, ys[:, -1]
        if self.latent:
            zs = self._odeint(self.model.latent_field(), state, t)
            return self.model.decoder(zs), zs[:, -1]
        ys = self.model(state, t)
        return ys, ys[:, -1]

    def chunks(self, y0: torch.Tensor, t: torch.Tensor, chunk_size: int | None = None,
               progress: bool = False) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(start, ys [B, k, d])`` for consecutive slices of ``t [T]`` covering every time once.

        The first chunk starts with ``y0`` at ``t[0]``. ``chunk_size`` is the number of time intervals per
        ``odeint`` call (``None``: the whole grid at once). Rows whose carried state is non-finite are not
        integrated further and stay NaN. A tqdm bar over the time steps is shown when ``progress``.
        """
        from tqdm.auto import tqdm

        n_t = t.shape[0]
        step = n_t - 1 if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
        bar = tqdm(total=n_t - 1, desc="rollout", unit="step", disable=not progress)
        try:
            with torch.no_grad():
                state = self.start(y0)
                yield 0, (self.model.decoder(state) if self.latent else y0).to(y0.dtype).unsqueeze(1)
                for a in range(0, n_t - 1, step):
                    b = min(a + step, n_t - 1)
                    ys = y0.new_full((y0.shape[0], b - a, y0.shape[1]), math.nan)
                    alive = torch.isfinite(state.reshape(state.shape[0], -1)).all(dim=1)
                    if bool(alive.any()):
                        idx = alive.nonzero().squeeze(1)
                        out, last = self.advance(state[idx], t[a:b + 1])
                        ys[idx] = out[:, 1:].to(ys.dtype)
                        new_state = torch.full_like(state, math.nan)
                        new_state[idx] = last.to(state.dtype)
                        state = new_state
                    bar.update(b - a)
                    yield a + 1, ys
        finally:
            bar.close()


def make_propagator(model: Any, *, kind: str = "auto", method: str | None = None,
                    **solver_options: Any) -> Propagator:
    """:class:`Propagator` for ``model`` (see there for the arguments)."""
    return Propagator(model, kind, method, solver_options)
