"""The result of :func:`pysciml.odeint`."""

from __future__ import annotations

import dataclasses

import torch

from ..status import Status


@dataclasses.dataclass
class ODESolution:
    """Solution of a batch of initial value problems.

    Attributes:
        ys: ``[batch, time, *state]`` (batch first); entries after a sample's failure are NaN.
        ts: output times ``[time]`` (shared) or ``[batch, time]`` (per sample), time dtype.
        stats: per-sample ``[batch]`` int64 tensors ``n_f_evals`` (vector-field evaluations spent on the
            sample), ``n_steps`` (attempted steps), ``n_accepted``, ``n_rejected``.
        status: ``[batch]`` int64 tensor of :class:`pysciml.status.Status` codes.
        n_calls: number of (batched) calls of the vector field this solve made — what a torchdiffeq-style
            NFE counter on ``f`` reports.
    """

    ys: torch.Tensor
    ts: torch.Tensor
    stats: dict[str, torch.Tensor]
    status: torch.Tensor
    n_calls: int = 0

    @property
    def nfe(self) -> int:
        """Running NFE for training code/regularisers: the largest per-sample ``n_f_evals`` of this solve."""
        return int(self.stats["n_f_evals"].max()) if self.stats["n_f_evals"].numel() else 0

    @property
    def success(self) -> torch.Tensor:
        """``[batch]`` bool: which samples finished with ``Status.SUCCESS``."""
        return self.status == int(Status.SUCCESS)

    def __repr__(self) -> str:
        counts = {Status(int(s)).name: int((self.status == s).sum()) for s in self.status.unique()}
        return (f"ODESolution(ys={tuple(self.ys.shape)}, status={counts}, "
                f"mean n_f_evals={self.stats['n_f_evals'].double().mean().item():.1f})")
