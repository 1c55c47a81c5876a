"""``pysciml train CONFIG.toml``: build data, model, integrator, regularisers and a :class:`RolloutTrainer`
from a TOML file and run it. See ``examples/configs/two_body.toml`` for every key.

Tables: top level ``seed``, ``out_dir`` (relative paths are relative to the config file), ``resume``;
``[data]`` ``path`` (HDF5 from ``pysciml generate``), ``window``, ``stride``, ``val_fraction``,
``val_window``;
``[model]`` ``type = "mlp"`` (``pysciml.models.MLPVectorField(dim, **rest)``); ``[integrator]`` ``method``
plus ``pysciml.odeint`` options (``step_size``, ``rtol``, ``atol``, ...); ``[[regularizers]]`` ``type`` (a
class of :mod:`pysciml.regularizers`) plus its arguments — ``JacobianAD`` takes ``known = "system"``, the
dataset's own system; ``[optimizer]`` ``lr``, ``lr_decay``, ``weight_decay``, ``clip_grad_norm``,
``batch_size``, ``epochs``, ``patience``, ``checkpoint_every``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from ..errors import BackendUnavailableError, InputTypeError, UnknownNameError, ValidationError
from .base import TrainResult

__all__ = ["load_config", "train_from_config"]

_TOP_KEYS = {"seed", "out_dir", "resume", "progress", "data", "model", "integrator", "regularizers",
             "optimizer"}
_REGULARIZERS = ("JacobianFrobenius", "JacobianSpectral", "JacobianCondition", "JacobianAD", "JacobianFD",
                 "KineticEnergy")
_OPTIMIZER_KEYS = {"lr", "lr_decay", "weight_decay", "clip_grad_norm", "batch_size", "epochs", "patience",
                   "checkpoint_every"}


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError as exc:  # pragma: no cover - python 3.10 only
        raise BackendUnavailableError("reading TOML on Python 3.10 needs the 'tomli' package: "
                                      "pip install tomli (or use Python >= 3.11)") from exc
    return tomli  # pragma: no cover


def load_config(path: str | Path) -> dict[str, Any]:
    """Parse the TOML file ``path``; unknown top-level keys are rejected. Adds ``_base`` (its folder)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"config file {str(path)!r} does not exist")
    toml = _toml_module()
    try:
        cfg = toml.loads(path.read_text(encoding="utf-8"))
    except toml.TOMLDecodeError as exc:
        raise ValidationError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    unknown = set(cfg) - _TOP_KEYS
    if unknown:
        raise ValidationError(f"unknown config key(s) {sorted(unknown)} in {str(path)!r}; "
                              f"valid: {sorted(_TOP_KEYS)}")
    for table in ("data", "model"):
        if not isinstance(cfg.get(table), dict):
            raise ValidationError(f"config {str(path)!r} needs a [{table}] table")
    cfg["_base"] = path.resolve().parent
    return cfg


def _build_model(spec: dict[str, Any], dim: int) -> torch.nn.Module:
    spec = dict(spec)
    kind = spec.pop("type", "mlp")
    if kind != "mlp":
        raise UnknownNameError(f"unknown [model] type {kind!r}; valid choices: mlp")
    from ..models import MLPVectorField

    return MLPVectorField(dim, **spec).to(torch.float64)


def _build_regularizers(specs: list[dict[str, Any]], data: Any) -> list[Any]:
    from .. import regularizers as regs

    out = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or "type" not in spec:
            raise ValidationError(f"regularizers[{i}] must be a table with a 'type' key, one of "
                                  f"{_REGULARIZERS}")
        spec = dict(spec)
        name = spec.pop("type")
        if name not in _REGULARIZERS:
            raise UnknownNameError(f"unknown regularizers[{i}].type {name!r}; valid choices: "
                                   f"{', '.join(_REGULARIZERS)}")
        if name == "JacobianAD":
            if spec.get("known", "system") != "system":
                raise ValidationError(f"regularizers[{i}].known must be \"system\" (the dataset's system)")
            spec.pop("known", None)
            from .. import systems

            system = systems.get(data.meta["system"], **dict(data.meta.get("system_params") or {}))
            spec["known"], spec["known_jvp"] = system.rhs_torch, system.jvp_torch
        try:
            out.append(getattr(regs, name)(**spec))
        except TypeError as exc:
            raise InputTypeError(f"regularizers[{i}] ({name}): {exc}") from exc
    return out


def train_from_config(path: str | Path, *, resume: bool | None = None,
                      progress: bool | None = None) -> TrainResult:
    """Run the training described by the TOML file ``path`` and return the :class:`TrainResult`.

    Writes ``checkpoint.pt``, ``best_model.pt``, ``metrics.jsonl`` and ``loss_curve.png`` to ``out_dir``.
    """
    from ..data import load_dataset
    from .rollout import RolloutTrainer

    cfg = load_config(path)
    base: Path = cfg["_base"]
    seed = int(cfg.get("seed", 0))
    dcfg = dict(cfg["data"])
    if "path" not in dcfg:
        raise ValidationError("[data] needs 'path', the HDF5 file written by `pysciml generate`")
    data = load_dataset(base / dcfg["path"]).successful()
    val_fraction = float(dcfg.get("val_fraction", 0.2))
    if not 0 <= val_fraction < 1:
        raise ValidationError(f"[data] val_fraction must be in [0, 1), got {val_fraction}")
    train, val = ((data, None) if val_fraction == 0
                  else data.split([1 - val_fraction, val_fraction], seed=seed))
    torch.manual_seed(seed)
    model = _build_model(cfg["model"], data.dim)
    icfg = dict(cfg.get("integrator", {}))
    method = icfg.pop("method", "rk4")
    ocfg = dict(cfg.get("optimizer", {}))
    unknown = set(ocfg) - _OPTIMIZER_KEYS
    if unknown:
        raise ValidationError(f"unknown [optimizer] key(s) {sorted(unknown)}; "
                              f"valid: {sorted(_OPTIMIZER_KEYS)}")
    out_dir = base / cfg.get("out_dir", "runs/train")
    trainer = RolloutTrainer(
        model, train, val, window=int(dcfg.get("window", 2)), stride=int(dcfg.get("stride", 1)),
        val_window=dcfg.get("val_window"), method=method, solver_options=icfg,
        regularizers=_build_regularizers(list(cfg.get("regularizers", [])), data), kind="field",
        out_dir=out_dir, seed=seed,
        progress=bool(cfg.get("progress", True) if progress is None else progress),
        **ocfg)
    return trainer.fit(resume=bool(cfg.get("resume", False) if resume is None else resume))
