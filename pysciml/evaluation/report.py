"""Reports written to a folder as JSON + figures: the stability report and the rollout report of a trained model.

Stability report (:func:`stability_report`): the model's Jacobian ``J = ∂F_θ/∂y`` at points of real trajectories
(:func:`pysciml.stability.trajectory_jacobians`; in the latent space for models with an autoencoder), and there

* its eigenvalues and spectral abscissa ``α(J) = max Re λ``;
* the numerical abscissa ``ω(J) = μ₂(J) = λ_max((J + Jᵀ)/2)`` and the log-norms ``μ₁``, ``μ_∞``;
* the local Lipschitz constant ``‖J‖₂`` (its maximum is a lower bound on the field's Lipschitz constant);
* the stiffness index ``S = κ₂(J)(t₁ − t₀)`` of Josias & Brink ("Jacobian Norm Regularisation and Conditioning
  in Neural ODEs", SACAIR 2022) and the stiffness ratio ``max|Re λ| / min|Re λ|``;

plus the model's certificates, which hold everywhere and not only on the sampled points:

* ``LipschitzMLP.lipschitz_bound()`` of every Lipschitz-controlled network (Alvarez Loya et al., arXiv:2503.01775);
* for every ``HurwitzLinear`` ``A = (J − R)Q − γI``: the shift ``γ`` (``Re λ(A) < −γ`` by construction), and the
  computed ``α(A)``, ``ω(A)``;
* for a ``StructurePreservingNODE`` with a Lipschitz nonlinear part: the one-sided bound
  ``μ₂(∂F/∂z) ≤ μ₂(A) + Lip(N)``, hence ``‖z(t) − z̃(t)‖ ≤ e^{(μ₂(A) + Lip(N)) t} ‖z(0) − z̃(0)‖``;
* for a ``StableNODE`` ``σ(Au + b)``: ``δ = max_{α≤D≤1} μ₂(DA)`` (De Marinis et al., arXiv:2402.13092 /
  2501.10740; :func:`pysciml.stability.contractivity_delta`, a lower bound when found by ascent) and the flow
  Lipschitz bound ``e^{δ (t₁ − t₀)}`` over the data's span.

Rollout report (:func:`rollout_report`): :func:`~.rollout.evaluate_rollout` with the offline and Jacobian
errors (:mod:`.field_errors`) and, for Kuramoto–Sivashinsky, the statistics of :mod:`.statistics`.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedError, ValidationError
from ..io import atomic_path
from ..stability import log_norm, spectral_abscissa, stiffness_index, trajectory_jacobians
from ..systems import KuramotoSivashinsky, System
from ..validation import check_positive_int
from ._propagate import is_latent_model, model_device, model_dtype, state_field
from .field_errors import evaluation_points, jacobian_error, offline_error
from .plots import plot_along_time, plot_eigenvalues, plot_error_curves, plot_final_errors, plot_lines
from .rollout import _as_data, evaluate_rollout, jsonable, order_quantiles, system_from_meta
from .statistics import (
    autocorrelation,
    energy_spectrum,
    hellinger,
    joint_pdf,
    kl_divergence,
    pdf_grid,
    plot_joint_pdfs,
    spectral_derivatives,
)

__all__ = ["certificates", "on_cpu", "rollout_report", "stability_report", "write_json"]


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (made JSON-safe: non-finite → null) to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(payload), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def on_cpu(model: Any) -> Any:
    """``model`` itself if it lives on the CPU, else a CPU copy (the diagnostics here run on the CPU in float64)."""
    if isinstance(model, nn.Module) and model_device(model).type != "cpu":
        return copy.deepcopy(model).cpu()
    return model


def _stats(values: torch.Tensor | np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64).ravel()
    q = order_quantiles(v[:, None])[:, 0]
    return {"min": float(np.min(v)), "mean": float(np.mean(v)), "max": float(np.max(v)),
            "q05": float(q[0]), "q50": float(q[2]), "q95": float(q[4])}


def certificates(model: nn.Module, horizon: float | None = None) -> dict[str, Any]:
    """Certified bounds of ``model`` (see the module docstring); empty lists where it has no such part."""
    from ..models import HurwitzLinear, LipschitzMLP, StableNODE

    out: dict[str, Any] = {"lipschitz_networks": [], "hurwitz_operators": [], "stable_node": None,
                           "latent_lognorm_bound": None}
    if not isinstance(model, nn.Module):
        return out
    for name, mod in model.named_modules():
        if isinstance(mod, LipschitzMLP):
            out["lipschitz_networks"].append({"module": name or "<model>", "lipschitz_bound": mod.lipschitz_bound(),
                                              "target": mod.lipschitz})
        elif isinstance(mod, HurwitzLinear):
            with torch.no_grad():
                a = mod.matrix().detach()
            out["hurwitz_operators"].append({"module": name or "<model>", "shift": mod.shift,
                                             "certified_abscissa_bound": -mod.shift,
                                             "spectral_abscissa": float(spectral_abscissa(a)),
                                             "numerical_abscissa": float(log_norm(a, 2))})
    if isinstance(model, StableNODE):
        res = model.contractivity_delta()
        out["stable_node"] = {"delta": res.delta, "method": res.method, "is_lower_bound": res.is_lower_bound,
                              "alpha": model.activation.alpha, "horizon": horizon,
                              "flow_lipschitz_bound": None if horizon is None else math.exp(res.delta * horizon)}
    nonlinear = getattr(model, "nonlinear", None)
    if is_latent_model(model) and isinstance(model.linear, HurwitzLinear) and isinstance(nonlinear, LipschitzMLP):
        with torch.no_grad():
            mu = float(log_norm(model.linear.matrix().detach(), 2))
        lip = nonlinear.lipschitz_bound()
        out["latent_lognorm_bound"] = {"mu2_A": mu, "lipschitz_N": lip, "bound": mu + lip}
    return out


def _sample(t: np.ndarray, y: np.ndarray, max_trajectories: int, max_times: int) -> tuple[np.ndarray, np.ndarray]:
    ib = np.unique(np.linspace(0, y.shape[0] - 1, min(max_trajectories, y.shape[0])).round().astype(int))
    it = np.unique(np.linspace(0, t.size - 1, min(max_times, t.size)).round().astype(int))
    return t[it], y[ib][:, it]


def _analysis_field(model: Any, ys: torch.Tensor, kind: str) -> tuple[Any, torch.Tensor, str]:
    """``(field, points [B, T, m], space)``: the data-space field, or the latent field on encoded states."""
    try:
        return state_field(model, kind), ys, "state"
    except UnsupportedError:
        if not is_latent_model(model):
            raise
    with torch.no_grad():
        z = model.encoder(ys)
    field = model.latent_field()
    return (lambda t, y: field(t, y)), z, "latent"


def stability_report(model: Any, data: Any = None, out_dir: str | os.PathLike[str] | None = None, *,
                     kind: str = "auto", max_trajectories: int = 8, max_times: int = 50,
                     time_unit: str = "time units") -> dict[str, Any]:
    """Stability report of ``model`` on the trajectories of ``data`` (module docstring); written to ``out_dir``.

    Args:
        model: vector field, or structure-preserving model (analysed in its latent space).
        data: :class:`pysciml.data.TrajectoryData`, a dataset path or ``(t [T], y [n, T, d])`` (real trajectories);
            ``None``: only the certificates. The analysis runs on the CPU (a model on another device is copied).
        out_dir: folder for ``stability.json``, ``stability_eigenvalues.png``, ``stability_abscissae.png``
            (``None``: nothing written).
        max_trajectories, max_times: evenly spaced trajectories and times at which Jacobians are formed (fewer for
            large dimensions so that the ``[B, T, d, d]`` Jacobians stay below ~160 MB).
    """
    model = on_cpu(model)
    if data is None:
        report: dict[str, Any] = {"certificates": certificates(model)}
        if out_dir is not None:
            write_json(Path(out_dir) / "stability.json", report)
        return report
    t, y, _ = _as_data(data)
    if y.ndim != 3 or y.shape[1] != t.size or t.size < 2:
        raise ValidationError(f"data must be t [T >= 2] and y [n, T, d], got {t.shape} and {y.shape}")
    max_trajectories = check_positive_int(max_trajectories, "max_trajectories")
    max_times = check_positive_int(max_times, "max_times")
    budget = max(16, int(2e7 // y.shape[2] ** 2))
    max_times = max(2, min(max_times, budget // min(max_trajectories, y.shape[0])))
    ts, ys = _sample(t, y[np.all(np.isfinite(y), axis=(1, 2))], max_trajectories, max_times)
    if ys.shape[0] == 0:
        raise ValidationError("data holds no finite trajectory to analyse")
    dtype = model_dtype(model)
    field, pts, space = _analysis_field(model, torch.as_tensor(ys, dtype=dtype), kind)
    jac = trajectory_jacobians(field, torch.as_tensor(ts, dtype=dtype), pts).to(torch.float64)
    eigs = torch.linalg.eigvals(jac)
    span = float(t[-1] - t[0])
    stiff = stiffness_index(jac, float(t[0]), float(t[-1]))
    per_point = {"spectral_abscissa": eigs.real.max(dim=-1).values, "numerical_abscissa": log_norm(jac, 2),
                 "log_norm_1": log_norm(jac, 1), "log_norm_inf": log_norm(jac, math.inf),
                 "spectral_norm": torch.linalg.matrix_norm(jac, ord=2), "stiffness_index": stiff.index,
                 "condition_number": stiff.condition, "stiffness_ratio": stiff.ratio}
    report = {
        "space": space, "dim": int(pts.shape[-1]), "n_trajectories": int(pts.shape[0]), "n_times": int(ts.size),
        "t0": float(t[0]), "t1": float(t[-1]),
        "along_trajectories": {k: _stats(v) for k, v in per_point.items()},
        "empirical_lipschitz_lower_bound": float(per_point["spectral_norm"].max()),
        "certificates": certificates(model, span),
    }
    if out_dir is not None:
        out = Path(out_dir)
        write_json(out / "stability.json", report)
        plot_eigenvalues(eigs.numpy(), ts, out / "stability_eigenvalues.png", time_unit)
        plot_along_time(ts, {"spectral abscissa α(J)": per_point["spectral_abscissa"].numpy(),
                             "numerical abscissa ω(J) = μ₂(J)": per_point["numerical_abscissa"].numpy(),
                             "μ₁(J)": per_point["log_norm_1"].numpy(), "μ∞(J)": per_point["log_norm_inf"].numpy()},
                        out / "stability_abscissae.png", "rate (1 / time unit)", time_unit)
    return report


def _ks_statistics(system: KuramotoSivashinsky, truth: np.ndarray, pred: np.ndarray, out: Path | None,
                   bins: int) -> dict[str, Any]:
    """Joint-PDF distances, spectra and autocorrelations of truth vs the finite model rollouts."""
    ok = np.all(np.isfinite(pred), axis=(1, 2))
    if not ok.any():
        return {"n_finite_rollouts": 0}
    length = float(system.params.L)
    ux, uxx = _ks_ranges(truth, length)
    edges = pdf_grid(ux, uxx, bins)
    p_true, p_model = joint_pdf(truth, length, edges), joint_pdf(pred[ok], length, edges)
    k, e_true = energy_spectrum(truth, length)
    _, e_model = energy_spectrum(pred[ok], length)
    lag = max(1, min(50, truth.shape[1] // 4))
    c_true, c_model = autocorrelation(truth, lag), autocorrelation(pred[ok], lag)
    result = {"n_finite_rollouts": int(ok.sum()), "hellinger": hellinger(p_true, p_model),
              "kl_truth_model": kl_divergence(p_true, p_model), "kl_smoothing": 1e-6,
              "outside_grid": {"truth": p_true.outside, "model": p_model.outside},
              "grid": {"u_x": list(ux), "u_xx": list(uxx), "bins": bins},
              "energy_spectrum": {"k": k, "truth": e_true, "model": e_model},
              "autocorrelation": {"lag_steps": np.arange(lag + 1), "truth": c_true, "model": c_model}}
    if out is not None:
        plot_joint_pdfs({"truth": p_true, "model": p_model}, out / "ks_joint_pdf.png", "joint PDF of (u_x, u_xx)")
        plot_lines({"truth": (k[1:], e_true[1:]), "model": (k[1:], e_model[1:])}, out / "ks_energy_spectrum.png",
                   "wavenumber k (1 / length)", "energy E(k)")
        plot_lines({"truth": (np.arange(lag + 1), c_true), "model": (np.arange(lag + 1), c_model)},
                   out / "ks_autocorrelation.png", "lag (snapshot spacings)", "autocorrelation C", logy=False)
    return result


def _ks_ranges(u: np.ndarray, length: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Symmetric grid ranges: 1.5 × the truth's largest |u_x|, |u_xx|."""
    ux, uxx = spectral_derivatives(u, length)
    a, b = 1.5 * float(np.abs(ux).max()), 1.5 * float(np.abs(uxx).max())
    return (-a, a), (-b, b)


def rollout_report(model: Any, data: Any, out_dir: str | os.PathLike[str] | None = None, *,
                   system: System | str | None = None, horizon: int | None = None, method: str | None = None,
                   chunk_size: int | None = 1000, threshold: float = 1.0, kind: str = "auto",
                   estimator: str = "auto", n_probes: int = 4, max_points: int = 20_000, pdf_bins: int = 64,
                   progress: bool = True, time_unit: str = "time units", **solver_options: Any) -> dict[str, Any]:
    """Rollout report of ``model`` on the test trajectories ``data``; written to ``out_dir`` when given.

    Files: ``rollout.json`` (summary of :meth:`RolloutEvaluation.summary`, plus ``offline_error``,
    ``jacobian_error`` and, for KS, ``ks_statistics``), ``rollout_errors.npz`` (``t``, per-trajectory ``R_e``),
    ``relative_error.png``, ``final_error.png``, ``conservation.png`` (systems with invariants), and for KS
    ``ks_joint_pdf.png``, ``ks_energy_spectrum.png``, ``ks_autocorrelation.png``.
    Offline and Jacobian errors need the true system and a field in the data's coordinates; otherwise they are
    reported as ``null`` with the reason. Arguments as in :func:`~.rollout.evaluate_rollout` and
    :func:`~.field_errors.jacobian_error`; ``progress`` shows a tqdm bar over the rollout's time steps.
    """
    t, y, meta = _as_data(data)
    if isinstance(system, str):
        from ..systems import get as get_system

        system = get_system(system)
    system = system if system is not None else system_from_meta(meta)
    is_ks = isinstance(system, KuramotoSivashinsky)
    ev = evaluate_rollout(model, (t, y), system=system, horizon=horizon, method=method, chunk_size=chunk_size,
                          threshold=threshold, kind=kind, progress=progress, keep_states=is_ks, **solver_options)
    report = ev.summary()
    report["offline_error"] = report["jacobian_error"] = None
    if system is None:
        report["field_errors_skipped"] = "no system given and none recorded in the data"
    else:
        try:
            field = state_field(on_cpu(model), kind)
        except UnsupportedError as exc:
            report["field_errors_skipped"] = str(exc)
        else:
            pts = evaluation_points(y[:, :ev.t.size], max_points, model_dtype(model))
            report["offline_error"] = offline_error(field, system, pts).__dict__
            report["jacobian_error"] = jacobian_error(field, system, pts, estimator, n_probes).__dict__
    out = None if out_dir is None else Path(out_dir)
    if is_ks:
        report["ks_statistics"] = _ks_statistics(system, y[:, :ev.t.size], ev.states, out, pdf_bins)
    if out is not None:
        write_json(out / "rollout.json", report)
        with atomic_path(out / "rollout_errors.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, t=ev.t, rel_error=ev.rel_error, divergence_time=ev.divergence_time)
        plot_error_curves(ev.t, {"model": ev.curve(ev.rel_error)}, out / "relative_error.png",
                          "relative error R_e (dimensionless)", time_unit)
        plot_final_errors({"model": ev.final_error}, out / "final_error.png",
                          f"final relative error R_e(t = {ev.t[-1]:g})")
        if ev.conservation:
            plot_error_curves(ev.t, {f"{name} ({ce.kind})": ev.curve(ce.error)
                                     for name, ce in ev.conservation.items()},
                              out / "conservation.png", "conservation error |I(x(t)) − I(x(t₀))| (/|I(x(t₀))|)",
                              time_unit)
    return report

