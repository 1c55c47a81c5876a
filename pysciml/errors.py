"""Exception hierarchy of pysciml.

Every error raised at the API edge is a subclass of :class:`PySciMLError` and of the matching
built-in (``ValueError``/``TypeError``/``RuntimeError``), so callers can catch either.
"""

from __future__ import annotations


class PySciMLError(Exception):
    """Base class of every pysciml error."""


class ValidationError(PySciMLError, ValueError):
    """An argument has a wrong value: shape, finiteness, ordering, range or an unknown name.

    The message always names the argument and says how to fix it.
    """


class InputTypeError(PySciMLError, TypeError):
    """An argument has a wrong type (e.g. a list where a tensor is needed, integer dtype for a state)."""


class UnknownNameError(ValidationError, KeyError):
    """An unknown system, method, backend or estimator name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class UnsupportedError(PySciMLError, NotImplementedError):
    """An object lacks an optional capability by design (a non-semilinear system has no split, a matrix-free
    linear part has no shifted solve); the message says which objects have it."""


class BackendUnavailableError(PySciMLError, RuntimeError):
    """A backend (e.g. ``julia``) cannot be used on this machine; the message says why and how to install."""


class DatasetError(PySciMLError, ValueError):
    """A data file is missing, truncated or malformed: an HDF5 trajectory set that does not follow the pysciml
    schema, an IDX/MNIST file, or a cache of derived data (autoencoder latents) that fails its checksum."""


class CheckpointError(PySciMLError, ValueError):
    """A training checkpoint is missing, malformed or incompatible with the model being resumed."""


class OutputPathError(PySciMLError, ValueError):
    """An output path cannot be written: it is a directory, its folder cannot be created, or permission is
    denied. The message names the path."""


class LockedError(PySciMLError, RuntimeError):
    """Another process holds the exclusive lock on an output path (a second writer is refused at once)."""


class SolverWarning(UserWarning):
    """A solve finished with samples that did not reach the final time (e.g. status ``MAX_STEPS``): the status
    says so per sample, and this warning makes it visible to users who do not read statuses."""
