"""The :class:`System` interface every catalogue system implements.

A system is ``y' = f(t, y)`` with a state of fixed dimension ``dim``. Arrays are batch-first:
``y`` has shape ``[batch, dim]``; ``t`` is a float or an array broadcastable to ``[batch]``.
Each system keeps its parameters in a frozen dataclass (``System.Params``) so that they can be
stored in dataset metadata and compared.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import InputTypeError, UnsupportedError, ValidationError
from ._common import Array

#: Largest array (bytes) one :meth:`System.initial_conditions` call returns (256 MiB, or half the free memory
#: when that is less); sample more in chunks with distinct seeds.
MAX_SAMPLE_BYTES = 2 ** 28


def _sample_budget() -> int:
    """:data:`MAX_SAMPLE_BYTES`, lowered to half the available physical memory where the OS reports it."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return MAX_SAMPLE_BYTES
    return min(MAX_SAMPLE_BYTES, max(free // 2, 2 ** 20))


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``None`` or a non-negative integer (bools rejected), as numpy's ``default_rng`` accepts."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputTypeError(f"{name} must be a non-negative integer or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValidationError(f"{name} must be >= 0, got {seed}")
    return int(seed)


def _checked_sampler(impl: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Wrap a subclass's ``initial_conditions(n, seed)`` with the argument and memory checks."""

    @functools.wraps(impl)
    def initial_conditions(self: System, n: int, seed: int | None = 0) -> np.ndarray:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise InputTypeError(f"n must be a positive integer (the number of initial states), got "
                                 f"{type(n).__name__}")
        if n < 1:
            raise ValidationError(f"n must be >= 1 (the number of initial states), got {n}")
        budget = _sample_budget()
        if int(n) * self.dim * 8 > budget:
            raise ValidationError(f"n = {n} initial states of dimension {self.dim} need {int(n) * self.dim * 8:,} "
                                  f"bytes, more than the {budget:,} allowed in one call; sample in chunks with "
                                  "distinct seeds")
        return impl(self, int(n), check_seed(seed))

    initial_conditions._checked = True  # type: ignore[attr-defined]
    return initial_conditions


@dataclasses.dataclass(frozen=True)
class SystemParams:
    """Base class of the frozen parameter dataclasses (one per system)."""

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a JSON-serialisable dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out


class System(ABC):
    """An ODE system ``y' = f(t, y)`` of the catalogue.

    Subclasses set the class attributes ``name`` and ``Params`` (a :class:`SystemParams` dataclass)
    and implement :meth:`_field` (the right-hand side, once for numpy and torch: :meth:`rhs` and
    :meth:`rhs_torch` call it), :meth:`jacobian` and :meth:`initial_conditions`. Semilinear systems
    ``y' = L y + N(t, y)`` also implement :meth:`linear_operator` and :meth:`_nonlinear` (and set
    ``semilinear = True``).
    """

    name: ClassVar[str]
    Params: ClassVar[type[SystemParams]]
    semilinear: ClassVar[bool] = False
    #: Typical time span ``(t0, t1)`` used by the CLI and the demo when none is given.
    default_t_span: ClassVar[tuple[float, float]] = (0.0, 1.0)
    #: True for systems whose Jacobian has widely separated eigenvalues (stiff methods recommended).
    stiff: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every subclass's :meth:`initial_conditions` gets the checks of ``n`` (positive int, within
        :data:`MAX_SAMPLE_BYTES`) and ``seed`` (``None`` or an int >= 0), raising pysciml errors."""
        super().__init_subclass__(**kwargs)
        impl = cls.__dict__.get("initial_conditions")
        if impl is not None and not getattr(impl, "_checked", False):
            cls.initial_conditions = _checked_sampler(impl)  # type: ignore[method-assign]

    def __init__(self, **params: Any) -> None:
        fields = {f.name for f in dataclasses.fields(self.Params)}
        unknown = sorted(set(params) - fields)
        if unknown:
            raise ValidationError(f"unknown parameter(s) {unknown} for system {self.name!r}; "
                                  f"valid parameters: {sorted(fields)}")
        try:
            self.params = self.Params(**params)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"invalid parameters for system {self.name!r}: {exc}") from exc

    # ------------------------------------------------------------------ interface
    @property
    @abstractmethod
    def dim(self) -> int:
        """State dimension."""

    @abstractmethod
    def _field(self, y: Array) -> Any:
        """The vector field written once for numpy and torch (``_common.namespace``): ``y [batch, dim]`` of
        either kind → the same kind. Every catalogue system is autonomous; a time-dependent one overrides
        :meth:`rhs` and :meth:`rhs_torch`."""

    def rhs(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """Right-hand side ``f(t, y)``; ``y [batch, dim]`` float64 → ``[batch, dim]`` (``t`` is ignored)."""
        return self._field(np.asarray(y, dtype=np.float64))

    def rhs_torch(self, t: float | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Same math as :meth:`rhs` in torch (differentiable); ``y [batch, dim]`` → ``[batch, dim]``."""
        return self._field(y)

    def jvp_torch(self, t: float | torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Jacobian-vector product ``J(y) v = ∂f/∂y · v`` per sample; ``y, v [batch, dim]`` → ``[batch, dim]``.

        Forward-mode autodiff of :meth:`rhs_torch` (one evaluation with a tangent); systems with a cheap
        closed form override it (e.g. Kuramoto–Sivashinsky). Used as the known Jacobian of ``L_AD``
        (:class:`pysciml.regularizers.JacobianAD`, ``known_jvp=``).
        """
        return torch.func.jvp(lambda x: self.rhs_torch(t, x), (y,), (v,))[1]

    @abstractmethod
    def jacobian(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """Analytic Jacobian ``∂f/∂y``; ``y [batch, dim]`` → ``[batch, dim, dim]``."""

    @abstractmethod
    def initial_conditions(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``n`` initial states ``[n, dim]`` sampled as in the system's source paper (deterministic per seed).

        ``n >= 1`` and ``n·dim·8`` bytes within :data:`MAX_SAMPLE_BYTES`; ``seed`` is ``None`` or an int >= 0
        (checked for every subclass by :meth:`__init_subclass__`)."""

    def invariants(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Conserved quantities of ``y [..., dim]`` as ``{name: array [...]}``; empty if the system has none."""
        return {}

    def linear_operator(self) -> np.ndarray:
        """Linear part ``L [dim, dim]`` of a semilinear system ``y' = L y + N(t, y)``."""
        raise UnsupportedError(self._not_semilinear())

    def _nonlinear(self, y: Array) -> Any:
        """``N(y)`` of a semilinear system, written once for numpy and torch (like :meth:`_field`)."""
        raise UnsupportedError(self._not_semilinear())

    def nonlinear(self, t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
        """Nonlinear part ``N(t, y)`` of a semilinear system; ``y [batch, dim]`` → ``[batch, dim]``."""
        return self._nonlinear(np.asarray(y, dtype=np.float64))

    def nonlinear_torch(self, t: float | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Torch version of :meth:`nonlinear` (differentiable)."""
        return self._nonlinear(y)

    def split_field(self, dtype: torch.dtype = torch.float64) -> Any:
        """The semilinear split as a torch :class:`~pysciml.integrators.SplitField` (for ETD/IMEX methods).

        The default uses the dense :meth:`linear_operator`; systems with a cheaper representation (e.g. the
        Fourier multiplier of Kuramoto–Sivashinsky) override this.
        """
        from ..integrators.split import SplitField

        if not self.semilinear:
            raise ValidationError(self._not_semilinear())
        lin = torch.as_tensor(self.linear_operator(), dtype=dtype)
        return SplitField(lin, self.nonlinear_torch)

    # ------------------------------------------------------------------ helpers
    def _not_semilinear(self) -> str:
        """What to say when a system without a split ``y' = L y + N(t, y)`` is asked for its parts."""
        return (f"system {self.name!r} is not semilinear (no split y' = L y + N(t, y)); use an explicit or "
                "Rosenbrock method")

    def default_t_eval(self, num: int = 101) -> np.ndarray:
        """Default output times ``[num]`` over :attr:`default_t_span` (equispaced; systems whose dynamics live on
        several time scales override this, e.g. Robertson's log-spaced grid)."""
        return np.linspace(*self.default_t_span, num)

    def state_names(self) -> list[str]:
        """Names of the state components (``y0, y1, …`` unless a system says better)."""
        return [f"y{i}" for i in range(self.dim)]

    def metadata(self) -> dict[str, Any]:
        """Name and parameters, as stored in dataset attributes."""
        return {"name": self.name, "params": self.params.to_dict()}

    def check_state(self, y: Any, name: str = "y0") -> np.ndarray:
        """Return ``y`` as float64 ``[batch, dim]`` (a single state ``[dim]`` becomes a batch of one).

        Raises :class:`~pysciml.errors.ValidationError` for a wrong shape or non-finite values.
        """
        try:
            arr = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{name} must be a numeric array of shape [batch, {self.dim}]: {exc}") from exc
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValidationError(f"{name} must have shape [batch, {self.dim}] (or [{self.dim}]) for system "
                                  f"{self.name!r}, got {tuple(np.shape(y))}")
        if arr.shape[0] == 0:
            raise ValidationError(f"{name} holds no initial state (batch size 0)")
        if not np.all(np.isfinite(arr)):
            raise ValidationError(f"{name} contains non-finite values (NaN or Inf)")
        return arr

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.to_dict().items())
        return f"{type(self).__name__}({args})"
