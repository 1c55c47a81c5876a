"""Per-trajectory / per-sample solver status codes shared by every solver and backend."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Outcome of solving one trajectory (one sample of a batch).

    The integer values are stable: they are stored in HDF5 datasets and returned in tensors.
    """

    SUCCESS = 0
    MAX_STEPS = 1
    STEP_SIZE_TOO_SMALL = 2
    NON_FINITE = 3
    FAILED = 4

    @property
    def message(self) -> str:
        """A one-line human explanation of the status, with the usual remedy."""
        return _MESSAGES[self]


_MESSAGES = {
    Status.SUCCESS: "integration finished successfully",
    Status.MAX_STEPS: "maximum number of steps reached before the final time (raise max_steps)",
    Status.STEP_SIZE_TOO_SMALL: "step size fell below the minimum (problem too stiff for this method "
    "or tolerances too tight; try a stiff method such as Radau/Rodas5P)",
    Status.NON_FINITE: "the solution became non-finite (NaN/Inf): the trajectory blew up",
    Status.FAILED: "the solver reported a failure",
}
