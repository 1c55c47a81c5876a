"""Catalogue of ODE systems: ``get(name, **params)`` and ``available()``.

Each system implements :class:`~pysciml.systems.base.System` (numpy and torch right-hand sides,
analytic Jacobian, the source paper's initial-condition sampling, invariants, semilinear split).
"""

from __future__ import annotations

from typing import Any

from ..errors import InputTypeError
from ..validation import check_choice
from .base import System, SystemParams
from .kuramoto_sivashinsky import KuramotoSivashinsky
from .multi_agent import MultiAgent
from .rigid_body import RigidBody
from .robertson import Robertson
from .transient_growth import TransientGrowth
from .two_body import TwoBody
from .vehicle import Vehicle

_REGISTRY: dict[str, type[System]] = {}


def register(cls: type[System]) -> type[System]:
    """Add a :class:`System` subclass to the catalogue under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (Robertson, KuramotoSivashinsky, TwoBody, RigidBody, TransientGrowth, Vehicle, MultiAgent):
    register(_cls)


def available() -> list[str]:
    """Names of the catalogue's systems, sorted."""
    return sorted(_REGISTRY)


def get(name: str | System, **params: Any) -> System:
    """Instantiate the system ``name`` with the given parameters (a :class:`System` passes through)."""
    if isinstance(name, System):
        if params:
            raise InputTypeError("parameters cannot be given together with a System instance; pass the "
                                 "system name instead, e.g. get(\"robertson\", **params)")
        return name
    key = check_choice(name, "system", available(), case_sensitive=False)
    return _REGISTRY[key](**params)


__all__ = ["System", "SystemParams", "Robertson", "KuramotoSivashinsky", "TwoBody", "RigidBody",
           "TransientGrowth", "Vehicle", "MultiAgent", "available", "get", "register"]
