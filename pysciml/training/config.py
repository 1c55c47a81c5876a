"""``pysciml train CONFIG.toml``: build data, model, integrator, regularisers, callbacks and a trainer from a
TOML file and run it. See ``examples/configs/two_body.toml`` for a full example.

Tables: top level ``seed``, ``out_dir`` (relative paths are relative to the config file), ``resume``,
``progress``;

``[data]`` ``path`` — an HDF5 file from ``pysciml generate`` (trajectory training, :class:`RolloutTrainer`)
or, for a ``NeuralODEClassifier``, an ``.npz`` file with arrays ``x [n, d]`` and ``labels [n]``
(:class:`ClassifierTrainer`); ``val_fraction``; for trajectories ``window``, ``stride``, ``val_window`` and
an optional ``[data.generate]`` recipe (``system``, ``n``, ``t_span = [t0, t1]``, ``num``, ``method``,
``rtol``, ``atol``, ``seed``, ``params``) used to write the HDF5 file with :func:`pysciml.generate` when it
does not exist yet;

``[model]`` ``type`` — any class of :mod:`pysciml.models` that is a vector field or a rollout model
(``MLPVectorField`` alias ``mlp``, ``StableNODE``, ``StructurePreservingNODE``, ``NeuralODEClassifier``) and its
constructor arguments; sizes the data fixes (``dim``, ``in_features``/``out_features``, ``num_classes``) are
filled in. Module arguments are sub-tables with their own ``type``: ``StructurePreservingNODE`` takes
``latent``, ``[model.autoencoder]`` (an :class:`~pysciml.models.Autoencoder`, optional: identity without),
``[model.linear]`` (``HurwitzLinear``), ``[model.nonlinear]`` (``LipschitzMLP`` or ``BilinearLowRank``) and
solver options; ``NeuralODEClassifier`` takes ``[model.vector_field]``;

``[integrator]`` ``method`` plus ``pysciml.odeint`` options (vector-field models; ``max_steps`` is the
per-batch step budget, default 1000); ``[[regularizers]]``
``type`` (a class of :mod:`pysciml.regularizers`) plus its arguments — ``JacobianAD`` takes
``known = "system"``, the dataset's own system; ``[optimizer]`` ``lr``, ``lr_decay``, ``lr_schedule``
(``"epoch"`` or ``"step"``: how often ``lr_decay`` is applied), ``weight_decay``, ``clip_grad_norm``,
``batch_size``, ``epochs``, ``patience``, ``checkpoint_every``, ``device``.
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
_OPTIMIZER_KEYS = {"lr", "lr_decay", "lr_schedule", "weight_decay", "clip_grad_norm", "batch_size", "epochs",
                   "patience", "checkpoint_every", "device"}
_MODEL_ALIASES = {"mlp": "MLPVectorField"}
_TRAINABLE = ("MLPVectorField", "StableNODE", "StructurePreservingNODE", "NeuralODEClassifier")
_GENERATE_KEYS = {"system", "n", "t_span", "num", "method", "rtol", "atol", "seed", "params"}


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


def _module(spec: Any, where: str, fill: dict[str, Any]) -> torch.nn.Module:
    """Build the module of the table ``spec`` (``type`` + arguments); ``fill`` supplies the sizes the data fixes
    for the arguments the table leaves out."""
    import inspect

    from ..models._config import MODEL_TYPES

    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValidationError(f"{where} must be a table with a 'type' key (a class of pysciml.models)")
    spec = dict(spec)
    raw = spec.pop("type")
    name = _MODEL_ALIASES.get(raw, raw)
    if name not in MODEL_TYPES:
        raise UnknownNameError(f"unknown {where}.type {name!r}; valid choices: "
                               f"{', '.join(sorted(MODEL_TYPES))} (alias mlp = MLPVectorField)")
    cls = MODEL_TYPES[name]
    params = inspect.signature(cls).parameters
    for key, value in fill.items():
        if key in params and key not in spec:
            spec[key] = value
    if name == "StructurePreservingNODE":
        return _structure_preserving(spec, where, fill["dim"])
    if name == "NeuralODEClassifier":
        spec["vector_field"] = _module(spec.get("vector_field"), f"{where}.vector_field", {"dim": fill["dim"]})
    for key, value in list(spec.items()):
        if isinstance(value, dict) and "type" in value:
            spec[key] = _module(value, f"{where}.{key}", {"dim": fill["dim"]})
    try:
        return cls(**spec)
    except TypeError as exc:
        raise InputTypeError(f"{where} ({name}): {exc}") from exc


def _structure_preserving(spec: dict[str, Any], where: str, dim: int) -> torch.nn.Module:
    from ..models import Autoencoder, StructurePreservingNODE

    ae_spec = spec.pop("autoencoder", None)
    latent = int(spec.pop("latent", dim if ae_spec is None else 0))
    if ae_spec is not None:
        if not isinstance(ae_spec, dict) or latent <= 0:
            raise ValidationError(f"{where}.autoencoder must be a table of Autoencoder arguments and {where} "
                                  f"needs latent = <latent size>")
        ae = Autoencoder(dim, latent, **ae_spec)
        encoder, decoder = ae.encoder, ae.decoder
    elif latent != dim:
        raise ValidationError(f"{where}.latent = {latent} differs from the data dimension {dim}: add a "
                              f"[model.autoencoder] table, or drop latent")
    else:
        encoder = decoder = None
    sizes = {"dim": latent, "in_features": latent, "out_features": latent}
    linear_spec = spec.pop("linear", {})
    if isinstance(linear_spec, dict):
        linear_spec = {"type": "HurwitzLinear", **linear_spec}
    linear = _module(linear_spec, f"{where}.linear", sizes)
    if "nonlinear" not in spec:
        raise ValidationError(f"{where} needs a [model.nonlinear] table (type = \"LipschitzMLP\" or "
                              f"\"BilinearLowRank\")")
    nonlinear = _module(spec.pop("nonlinear"), f"{where}.nonlinear", sizes)
    for key in ("encoder", "decoder"):
        if key in spec:
            raise ValidationError(f"{where}.{key}: give the encoder and decoder as one [model.autoencoder] table")
    try:
        return StructurePreservingNODE(encoder, linear, nonlinear, decoder, **spec)
    except TypeError as exc:
        raise InputTypeError(f"{where} (StructurePreservingNODE): {exc}") from exc


def _build_model(spec: dict[str, Any], dim: int, num_classes: int | None = None) -> torch.nn.Module:
    """The model of the ``[model]`` table for data of dimension ``dim`` (float64)."""
    spec = {"type": "mlp", **spec}
    name = _MODEL_ALIASES.get(spec["type"], spec["type"])
    if name not in _TRAINABLE:
        raise UnknownNameError(f"[model] type {spec['type']!r} cannot be trained by `pysciml train`; valid "
                               f"choices: {', '.join(_TRAINABLE)} (alias mlp); the other models are parts "
                               f"(sub-tables) of these")
    if (name == "NeuralODEClassifier") != (num_classes is not None):
        raise ValidationError("a NeuralODEClassifier trains on classification data ([data] path to an .npz with "
                              "x and labels) and the other models on trajectories (an HDF5 dataset)")
    fill: dict[str, Any] = {"dim": dim, "in_features": dim, "out_features": dim}
    if num_classes is not None:
        fill["num_classes"] = num_classes
    return _module(spec, "[model]", fill).to(torch.float64)


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
            if data is None:
                raise ValidationError(f"regularizers[{i}]: JacobianAD needs known dynamics; a classifier has none")
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


def _dataset(dcfg: dict[str, Any], base: Path, progress: bool) -> Any:
    """Load the ``[data]`` HDF5 file, writing it first from the ``[data.generate]`` recipe if it is missing."""
    import numpy as np

    from ..data import generate, load_dataset

    path = base / dcfg["path"]
    recipe = dcfg.get("generate")
    if not path.exists() and recipe is not None:
        if not isinstance(recipe, dict) or "system" not in recipe:
            raise ValidationError("[data.generate] must be a table with at least 'system' (and n, t_span, num, "
                                  "method, rtol, atol, seed, params)")
        unknown = set(recipe) - _GENERATE_KEYS
        if unknown:
            raise ValidationError(f"unknown [data.generate] key(s) {sorted(unknown)}; valid: "
                                  f"{sorted(_GENERATE_KEYS)}")
        recipe = dict(recipe)
        t0, t1 = recipe.pop("t_span", (0.0, 1.0))
        t_eval = np.linspace(float(t0), float(t1), int(recipe.pop("num", 101)))
        print(f"[data] {path} does not exist: generating it from [data.generate]", file=sys.stderr)
        generate(recipe.pop("system"), int(recipe.pop("n", 16)), t_eval, path, progress=progress, **recipe)
    return load_dataset(path).successful()


def _trainer_options(ocfg: dict[str, Any]) -> dict[str, Any]:
    from .callbacks import ExponentialDecay

    unknown = set(ocfg) - _OPTIMIZER_KEYS
    if unknown:
        raise ValidationError(f"unknown [optimizer] key(s) {sorted(unknown)}; valid: {sorted(_OPTIMIZER_KEYS)}")
    per = ocfg.pop("lr_schedule", "epoch")
    if per != "epoch":
        ocfg["callbacks"] = [ExponentialDecay(float(ocfg.pop("lr_decay", 1.0)), per=per)]
    return ocfg


def train_from_config(path: str | Path, *, resume: bool | None = None,
                      progress: bool | None = None) -> TrainResult:
    """Run the training described by the TOML file ``path`` and return the :class:`TrainResult`.

    Writes ``checkpoint.pt``, ``best_model.pt`` (both loadable with :func:`pysciml.load_model`),
    ``metrics.jsonl`` and ``loss_curve.png`` to ``out_dir``.
    """
    from .classifier import ClassifierTrainer
    from .rollout import RolloutTrainer, model_kind

    cfg = load_config(path)
    base: Path = cfg["_base"]
    seed = int(cfg.get("seed", 0))
    show = bool(cfg.get("progress", True) if progress is None else progress)
    dcfg = dict(cfg["data"])
    if "path" not in dcfg:
        raise ValidationError("[data] needs 'path': an HDF5 file written by `pysciml generate` (or a "
                              "[data.generate] recipe to write it), or an .npz for a classifier")
    val_fraction = float(dcfg.get("val_fraction", 0.2))
    if not 0 <= val_fraction < 1:
        raise ValidationError(f"[data] val_fraction must be in [0, 1), got {val_fraction}")
    common = {"out_dir": base / cfg.get("out_dir", "runs/train"), "seed": seed, "progress": show,
              **_trainer_options(dict(cfg.get("optimizer", {})))}
    regularizer_specs = list(cfg.get("regularizers", []))
    torch.manual_seed(seed)
    if _MODEL_ALIASES.get(cfg["model"].get("type"), cfg["model"].get("type")) == "NeuralODEClassifier":
        if cfg.get("integrator"):
            raise ValidationError("NeuralODEClassifier integrates itself: put its method and solver options in the "
                                  "[model] table, not in [integrator]")
        from ..datasets import load_npz

        x, labels = load_npz(base / dcfg["path"], "[data] path")
        perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
        n_val = int(round(val_fraction * x.shape[0]))
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        model = _build_model(cfg["model"], x.shape[1], num_classes=int(labels.max()) + 1)
        trainer: Any = ClassifierTrainer(
            model, (x[train_idx], labels[train_idx]), (x[val_idx], labels[val_idx]) if n_val else None,
            regularizers=_build_regularizers(regularizer_specs, None), **common)
    else:
        data = _dataset(dcfg, base, show)
        train, val = ((data, None) if val_fraction == 0
                      else data.split([1 - val_fraction, val_fraction], seed=seed))
        model = _build_model(cfg["model"], data.dim)
        icfg = dict(cfg.get("integrator", {}))
        method = icfg.pop("method", "rk4")
        kind = model_kind(model)
        if kind == "rollout" and cfg.get("integrator"):
            raise ValidationError(f"{type(model).__name__} integrates itself: put its method and solver options "
                                  f"in the [model] table, not in [integrator]")

        trainer = RolloutTrainer(
            model, train, val, window=int(dcfg.get("window", 2)), stride=int(dcfg.get("stride", 1)),
            val_window=dcfg.get("val_window"), method=method, solver_options=icfg,
            regularizers=_build_regularizers(regularizer_specs, data), kind=kind, **common)
    return trainer.fit(resume=bool(cfg.get("resume", False) if resume is None else resume))
