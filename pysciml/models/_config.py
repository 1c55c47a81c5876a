"""Constructor configs of the models, so that a checkpoint can rebuild a model without retyping it.

:func:`configurable` wraps a model class's ``__init__``: when an instance of exactly that class is built, the
arguments it was called with are recorded as a JSON-ready dict ``{"type": name, "args": {...}}``
(:func:`model_config`). Argument values may be JSON scalars, lists/dicts of them, tensors (stored as nested
lists with their dtype) and modules that themselves have a config — another configurable model, or one of
the plain torch layers in :data:`TORCH_LAYERS` (``Sequential``, ``Linear``, ``Identity``, activations).
:func:`build_from_config` is the inverse. A model whose arguments cannot be recorded (a custom module, a
callable) keeps ``None`` as config plus the reason, which :func:`model_config` reports.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from ..errors import UnknownNameError, ValidationError
from ._activations import ALL

__all__ = ["MODEL_TYPES", "TORCH_LAYERS", "build_from_config", "configurable", "model_config"]

#: Registered pysciml model classes, by class name.
MODEL_TYPES: dict[str, type[nn.Module]] = {}
#: Plain torch layers a config may contain (name -> class); activations take no arguments.
TORCH_LAYERS: dict[str, type[nn.Module]] = {"Sequential": nn.Sequential, "Linear": nn.Linear,
                                            "Identity": nn.Identity,
                                            **{cls.__name__: cls for cls in ALL.values()}}
_CONFIG_ATTR = "_pysciml_config"
_ERROR_ATTR = "_pysciml_config_error"

M = TypeVar("M", bound=type[nn.Module])


class _Unrecordable(Exception):
    """An argument value that a JSON config cannot hold."""


def configurable(cls: M) -> M:
    """Class decorator: register ``cls`` in :data:`MODEL_TYPES` and record its constructor arguments."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self) is not cls:  # a subclass has its own constructor: its arguments are unknown here
            return
        bound = signature.bind(self, *args, **kwargs)
        recorded: dict[str, Any] = {}
        try:
            for name, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    recorded.update({k: _encode(v) for k, v in value.items()})
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    raise _Unrecordable(f"*{name} arguments")
                else:
                    recorded[name] = _encode(value)
        except _Unrecordable as exc:
            object.__setattr__(self, _ERROR_ATTR, str(exc))
            return
        object.__setattr__(self, _CONFIG_ATTR, {"type": cls.__name__, "args": recorded})

    cls.__init__ = wrapped  # type: ignore[method-assign]
    MODEL_TYPES[cls.__name__] = cls
    return cls


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unrecordable(f"non-finite float {value!r}")
        return value
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.detach().cpu().tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if any(k.startswith("__") for k in value):
            raise _Unrecordable("dict keys starting with '__'")
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, nn.Module):
        return {"__module__": _module_config(value)}
    raise _Unrecordable(f"a {type(value).__name__} argument")


def _module_config(module: nn.Module) -> dict[str, Any]:
    config = getattr(module, _CONFIG_ATTR, None)
    if config is not None and type(module).__name__ in MODEL_TYPES:
        return config
    name = type(module).__name__
    if TORCH_LAYERS.get(name) is not type(module):
        reason = getattr(module, _ERROR_ATTR, None)
        raise _Unrecordable(f"a {name} module" + (f" ({reason})" if reason else ""))
    if isinstance(module, nn.Sequential):
        return {"type": name, "children": [_module_config(m) for m in module]}
    if isinstance(module, nn.Linear):
        return {"type": name, "args": {"in_features": module.in_features, "out_features": module.out_features,
                                       "bias": module.bias is not None}}
    if type(module) in ALL.values() or isinstance(module, nn.Identity):
        if type(module)().extra_repr() != module.extra_repr():
            raise _Unrecordable(f"a {name} with non-default arguments ({module.extra_repr()})")
        return {"type": name, "args": {}}
    raise _Unrecordable(f"a {name} module")  # pragma: no cover - TORCH_LAYERS is covered above


def model_config(model: nn.Module) -> dict[str, Any]:
    """The JSON-ready constructor config of ``model`` (``{"type", "args"}``, nested for module arguments).

    Raises:
        ValidationError: ``model`` is not a pysciml model built by its own constructor, or one of its
            arguments (a custom module, a callable) cannot be stored; the message names it.
    """
    if not isinstance(model, nn.Module):
        raise ValidationError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        return _module_config(model)
    except _Unrecordable as exc:
        raise ValidationError(f"cannot record the constructor config of {type(model).__name__}: it holds {exc}; "
                              f"only pysciml.models classes (and Sequential/Linear/activation layers inside "
                              f"them) can be rebuilt from a checkpoint — rebuild the model yourself and use "
                              f"load_state_dict") from exc


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            return torch.tensor(value["__tensor__"], dtype=_dtype(value.get("dtype")))
        if "__dtype__" in value:
            return _dtype(value["__dtype__"])
        if "__module__" in value:
            return build_from_config(value["__module__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def _dtype(name: Any) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ValidationError(f"unknown dtype {name!r} in a model config")
    return dtype


def build_from_config(config: dict[str, Any]) -> nn.Module:
    """Rebuild a module from :func:`model_config`'s output (parameters freshly initialised).

    Raises:
        UnknownNameError: an unknown model/layer type (the message lists the known ones).
        ValidationError: a malformed config or arguments the constructor rejects.
    """
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ValidationError(f"a model config must be a dict with a 'type' string, got {config!r:.200}")
    name = config["type"]
    if name == "Sequential":
        children = config.get("children")
        if not isinstance(children, list):
            raise ValidationError("a Sequential config needs a 'children' list")
        return nn.Sequential(*(build_from_config(c) for c in children))
    cls: Callable[..., nn.Module] | None = MODEL_TYPES.get(name) or TORCH_LAYERS.get(name)
    if cls is None:
        raise UnknownNameError(f"unknown model type {name!r} in the config; known: "
                               f"{', '.join(sorted(MODEL_TYPES) + sorted(TORCH_LAYERS))}")
    args = config.get("args", {})
    if not isinstance(args, dict):
        raise ValidationError(f"the 'args' of a {name} config must be a dict, got {type(args).__name__}")
    try:
        return cls(**{k: _decode(v) for k, v in args.items()})
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cannot build {name} from its config ({exc})") from exc
