"""Errors of the torchdiffeq shim: pysciml errors that are also the exception types torchdiffeq raises."""

from __future__ import annotations

from ..errors import PySciMLError


class SolveFailedError(PySciMLError, AssertionError):
    """The solve cannot continue (step-size underflow, non-finite state, ``max_num_steps`` exceeded). torchdiffeq
    raises ``AssertionError`` in these cases, so ``except AssertionError`` keeps working."""
