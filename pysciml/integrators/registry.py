"""Name → stepper-factory registry behind ``pysciml.odeint(method=...)``.

Each method family registers its methods when its module is imported (``pysciml.integrators``
imports them all). A factory takes the method options (e.g. ``step_size`` is *not* among them: that is
the engine's) and returns a configured :class:`~pysciml.integrators.stepper.Stepper`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ValidationError
from ..validation import check_choice
from .stepper import Stepper

StepperFactory = Callable[..., Stepper]

_METHODS: dict[str, StepperFactory] = {}
_FAMILIES: dict[str, str] = {}


def register_method(name: str, factory: StepperFactory, family: str) -> None:
    """Register ``factory`` under ``name`` (lower case) in ``family``.

    Families: ``explicit``, ``rosenbrock``, ``exponential``, ``imex``.
    """
    key = name.lower()
    if key in _METHODS:
        raise ValueError(f"integration method {name!r} is already registered")
    _METHODS[key] = factory
    _FAMILIES[key] = family


def register_tableaux(tableaux: Iterable[Any], stepper: Callable[[Any], Stepper], family: str) -> None:
    """Register one method per tableau (its ``name``): a stepper ``stepper(tableau)`` that takes no options."""
    for tableau in tableaux:
        def make(tableau: Any = tableau, **options: Any) -> Stepper:
            if options:
                raise ValidationError(f"method {tableau.name!r} takes no method options, got {sorted(options)}")
            return stepper(tableau)

        register_method(tableau.name, make, family)


def available_methods(family: str | None = None) -> list[str]:
    """Registered method names (optionally of one family), sorted."""
    return sorted(k for k, fam in _FAMILIES.items() if family is None or fam == family)


def method_family(name: str) -> str:
    """Family of a registered method."""
    return _FAMILIES[check_choice(name, "method", available_methods(), case_sensitive=False)]


def make_stepper(name: str, **options: Any) -> Stepper:
    """Build the stepper for ``name``; unknown names raise :class:`~pysciml.errors.UnknownNameError`."""
    key = check_choice(name, "method", available_methods(), case_sensitive=False)
    return _METHODS[key](**options)
