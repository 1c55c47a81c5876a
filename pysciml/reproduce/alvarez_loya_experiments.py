"""The experiments of Alvarez Loya, Serino, Burby, Tang, "Structure-Preserving Neural ODEs for Stiff Systems"
(arXiv:2503.01775): data, models, training and evaluation of §5.1 (transient growth), §5.2 (Robertson) and
§5.3 (Kuramoto–Sivashinsky), built from the library (:class:`~pysciml.models.StructurePreservingNODE`,
:class:`~pysciml.training.RolloutTrainer`, :mod:`pysciml.evaluation.statistics`). The report, claims and mode
settings live in :mod:`pysciml.reproduce.alvarez_loya`; ``examples/transient_growth.py`` calls
:func:`transient_growth_run` too.

Every model is ``y → z = E(y)``, ``z' = A z + N(z)``, ``y = D(z)`` with ``A = (J − R)Q − γI`` Hurwitz
(:class:`~pysciml.models.HurwitzLinear`, ``Re λ(A) < −γ``) and ``N`` a Lipschitz-controlled MLP
(:class:`~pysciml.models.LipschitzMLP`, ``Lip(N) ≤ L``) or a low-rank bilinear form, integrated by exponential
Euler ``z_{n+1} = e^{hA} z_n + h φ_1(hA) N(z_n)`` with one step per observation interval. Losses are mean
squared errors in the original coordinates (the paper's eq. (20)).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..data import TrajectoryData
from ..evaluation.statistics import hellinger, joint_pdf, kl_divergence, pdf_grid, spectral_derivatives
from ..ground_truth import solve
from ..models import Autoencoder, BilinearLowRank, HurwitzLinear, LipschitzMLP, StructurePreservingNODE
from ..stability import transient_growth
from ..systems import get as get_system
from ..training import RolloutTrainer

__all__ = ["TG_TRAIN_TIMES", "fit_full_batch", "ks_data", "ks_model", "ks_run", "rel_error", "robertson_data",
           "robertson_model", "robertson_run", "transient_growth_run"]

# --- shared ----------------------------------------------------------------------------------------------------


def rel_error(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """``‖pred − truth‖_F / ‖truth‖_F`` over all trajectories and times after the first (``inf`` if not finite)."""
    num = torch.linalg.norm(pred[:, 1:] - truth[:, 1:])
    return float(num / torch.linalg.norm(truth[:, 1:])) if bool(torch.isfinite(num)) else math.inf


def _scale_weights(net: LipschitzMLP, scale: float) -> None:
    """Multiply the initial weights of ``net`` by ``scale`` (the Table 1 'initial weight scale')."""
    with torch.no_grad():
        for lin in net.linears:
            lin.weight.mul_(scale)


def _train(model: StructurePreservingNODE, train: TrajectoryData, val: TrajectoryData | None, settings: Mapping[str,
           Any], seed: int, window: int | None = None) -> dict[str, Any]:
    """Adam on rollout windows (``window`` samples; default whole trajectories) with a per-epoch learning-rate
    decay; returns the loss history, status and wall seconds (the model keeps the weights of the best
    validation epoch when ``val`` is given, else the last)."""
    trainer = RolloutTrainer(model, train, val, window=window or train.t.size, batch_size=settings["batch_size"],
                             kind="rollout", lr=settings["lr"], lr_decay=settings["lr_decay"],
                             epochs=settings["epochs"], seed=seed, progress=False, restore_best=val is not None,
                             max_steps=10_000)
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    done = [h for h in result.history if "train_loss" in h]
    return {"status": result.status, "seconds": seconds, "epochs_run": len(done),
            "seconds_per_epoch": seconds / max(len(done), 1),
            "train_loss": [h["train_loss"] for h in done], "val_loss": [h.get("val_loss") for h in done],
            "final_train_loss": done[-1]["train_loss"] if done else math.inf}


# --- §5.1 transient growth -----------------------------------------------------------------------------------------

#: Observation times used for training (§5.1: decay uses only the end points, growth three points).
TG_TRAIN_TIMES = {"decay": [0.0, 4.0], "growth": [0.0, 2.0, 4.0]}
#: Deployment uses a step this many times smaller than the training step.
TG_REFINE = 10


def _tg_data(variant: str, n: int, seed: int, t_dense: np.ndarray) -> torch.Tensor:
    """Reference trajectories ``[n, T, 2]`` on ``t_dense`` (adaptive RK45, rtol 1e-10)."""
    system = get_system("transient_growth", variant=variant)
    y0 = system.initial_conditions(n, seed=seed)
    return torch.as_tensor(solve(system, y0, t_dense, method="RK45", rtol=1e-10, atol=1e-12).y)


def _tg_model(variant: str, method: str, step: float, hidden: int, rank: int) -> StructurePreservingNODE:
    """Identity encoder/decoder, Hurwitz ``A``; bilinear ``N`` for ``decay``, Lipschitz MLP for ``growth``."""
    nonlinear = (BilinearLowRank(2, rank=rank) if variant == "decay"
                 else LipschitzMLP(2, 2, hidden=hidden, layers=2, lipschitz=1.0, bias=False))
    return StructurePreservingNODE(None, HurwitzLinear(2), nonlinear, None, method=method, step_size=step).double()


def fit_full_batch(model: torch.nn.Module, y: torch.Tensor, t: torch.Tensor, iterations: int,
                   lr: float) -> list[float]:
    """Full-batch Adam on the mean squared error of ``model(y[:, 0], t)`` against ``y [B, T, d]``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = torch.mean((model(y[:, 0], t) - y) ** 2)
        if not bool(torch.isfinite(loss)):
            losses.append(math.inf)
            break
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def transient_growth_run(variant: str, method: str, seed: int, *, iterations: int, n_train: int, n_test: int,
                         lr: float, hidden: int = 100, rank: int = 8, n_plot: int = 3) -> dict[str, Any]:
    """Train one model of §5.1 on the few training times with one step per interval; evaluate on ``n_test``
    new trajectories at the training step and deployed with a ``TG_REFINE``× smaller step.

    Returns test errors, the loss history, ``‖e^{tA_θ}‖₂`` of the learned and true ``A`` and ``n_plot``
    test trajectories (truth and both predictions) for the figure.
    """
    torch.manual_seed(seed)
    t_train = np.asarray(TG_TRAIN_TIMES[variant])
    step = float(t_train[1] - t_train[0])
    t_dense = np.linspace(0.0, t_train[-1], int(round(t_train[-1] / step)) * TG_REFINE + 1)
    y_tr = _tg_data(variant, n_train, seed, t_dense)[:, ::TG_REFINE]
    y_te = _tg_data(variant, n_test, 10_000 + seed, t_dense)
    t_tr, t_de = torch.as_tensor(t_train), torch.as_tensor(t_dense)
    model = _tg_model(variant, method, step, hidden, rank)
    losses = fit_full_batch(model, y_tr, t_tr, iterations, lr)
    with torch.no_grad():
        coarse = model(y_te[:, 0], t_tr)
        fine = model(y_te[:, 0], t_de, step_size=step / TG_REFINE)
        a = model.linear.matrix()
    system = get_system("transient_growth", variant=variant)
    return {"test_error_train_step": rel_error(coarse, y_te[:, ::TG_REFINE]),
            "test_error_small_step": rel_error(fine, y_te), "final_train_loss": losses[-1],
            "loss": losses[:: max(1, len(losses) // 100)], "learned_A": a.tolist(), "step": step,
            "t_train": t_train.tolist(), "t_dense": t_dense.tolist(),
            "norm_learned": transient_growth(a, t_de).norms.tolist(),
            "norm_true": transient_growth(system.linear_operator(), t_de).norms.tolist(),
            "plot_truth": y_te[:n_plot].tolist(), "plot_coarse": coarse[:n_plot].tolist(),
            "plot_fine": fine[:n_plot].tolist()}


# --- §5.2 Robertson ------------------------------------------------------------------------------------------------

#: Scale of the second species (§5.2: y2 is multiplied by 1e4 so all species are O(1)).
Y2_SCALE = 1e4


@functools.lru_cache(maxsize=4)
def robertson_data(n: int, n_times: int, seed: int = 0) -> TrajectoryData:
    """``n`` Robertson trajectories from ``(1 + ε, 0, 0)``, ``ε ~ U(−0.01, 0.01)``, at ``t = 0`` and ``n_times``
    log-spaced times on ``[1e-5, 1e5]`` (batched Rodas5P, rtol 1e-8, atol 1e-10; the paper used MATLAB's
    ode15s);
    state ``(y1, 1e4·y2, y3)``. Cached in memory (the runs of one invocation share it)."""
    system = get_system("robertson", y2_scale=Y2_SCALE)
    t = np.concatenate([[0.0], np.geomspace(1e-5, 1e5, n_times)])
    sol = solve(system, system.initial_conditions(n, seed=seed), t, method="Rodas5P", rtol=1e-8,
                atol=[1e-10, 1e-10, 1e-10])
    return TrajectoryData(t, sol.y, {"system": "robertson", "y2_scale": Y2_SCALE}, sol.status).successful()


def robertson_model(*, autoencoder: bool, lipschitz: float | None, init_scale: float, hidden: int, ae_hidden: int,
                    span: float, latent: int = 3, rate_min: float = 1e-1, phi: str = "auto") -> StructurePreservingNODE:
    """§5.2 model: (optional) tanh autoencoder ``R³ → R^latent`` (``latent`` must be 3 without it), Hurwitz ``A``
    started at ``latent`` decay rates log-spaced over ``rate_min … 1e4`` (the data's time scales; our choice),
    Lipschitz MLP ``N`` (2 hidden layers of ``hidden``, weights multiplied by ``init_scale`` at initialisation),
    ETD1 with one step per log-spaced interval."""
    dim = 3
    latent = latent if autoencoder else dim
    linear = HurwitzLinear(latent, init_rates=torch.logspace(math.log10(rate_min), 4, latent))
    nonlinear = LipschitzMLP(latent, latent, hidden=hidden, layers=2, lipschitz=lipschitz, activation="tanh")
    _scale_weights(nonlinear, init_scale)
    ae = Autoencoder(dim, latent, hidden=ae_hidden, layers=2, activation="tanh") if autoencoder else None
    return StructurePreservingNODE(ae.encoder if ae else None, linear, nonlinear, ae.decoder if ae else None,
                                   method="etd1", phi=phi, step_size=span).double()


def _noisy(data: TrajectoryData, level: float, seed: int) -> TrajectoryData:
    """Training data plus Gaussian noise of standard deviation ``level × std`` of each species (all times)."""
    if level <= 0:
        return data
    rng = np.random.default_rng(seed)
    std = data.y.reshape(-1, data.dim).std(axis=0)
    return TrajectoryData(data.t, data.y + level * std * rng.standard_normal(data.y.shape), data.meta, data.status)


def robertson_run(seed: int, p: Mapping[str, Any]) -> dict[str, Any]:
    """Train one Robertson model (settings ``p``: data size, architecture, ``lipschitz``, ``init_scale``,
    ``noise``, training) and evaluate it on held-out trajectories: relative error (all species and per
    species), the worst error of y2 on its shoulder ``t ∈ [1e-2, 1e2]``, and the same model deployed with
    explicit RK4 on the same log-spaced steps (the explicit comparison)."""
    data = robertson_data(p["n_traj"], p["n_times"], p["data_seed"])
    train, val, test = data.split([0.7, 0.1, 0.2], seed=p["data_seed"])
    torch.manual_seed(seed)
    span = float(data.t[-1] - data.t[0])
    model = robertson_model(autoencoder=p["autoencoder"], lipschitz=p["lipschitz"], init_scale=p["init_scale"],
                            hidden=p["hidden"], ae_hidden=p["ae_hidden"], span=span, latent=p["latent"],
                            rate_min=p["rate_min"])
    fit = _train(model, _noisy(train, p["noise"], seed), val, p, seed)
    t = torch.as_tensor(data.t)
    y = torch.as_tensor(test.y)
    with torch.no_grad():
        pred = model(y[:, 0], t)
        explicit = model(y[:, 0], t, method="rk4")
        latent = model.encoder(y[0])
        eig = torch.linalg.eigvals(model.linear.matrix())
    shoulder = (data.t >= 1e-2) & (data.t <= 1e2)
    y2_err = (pred[:, shoulder, 1] - y[:, shoulder, 1]).abs().max() / y[:, :, 1].abs().max()
    return {**fit, "test_rel_error": rel_error(pred, y),
            "test_rel_error_species": [rel_error(pred[..., i:i + 1], y[..., i:i + 1]) for i in range(3)],
            "y2_shoulder_max_error": float(y2_err) if bool(torch.isfinite(y2_err)) else math.inf,
            "explicit_rk4_rel_error": rel_error(explicit, y),
            "explicit_rk4_finite": bool(torch.isfinite(explicit).all()),
            "eigenvalues_real": np.sort(eig.real.numpy()).tolist(), "eigenvalues_imag_max": float(eig.imag.abs().max()),
            "t": data.t.tolist(), "plot_truth": y[0].tolist(), "plot_pred": pred[0].tolist(),
            "plot_latent": latent.tolist(), "n_train": train.n, "n_test": test.n}


# --- §5.3 Kuramoto–Sivashinsky ---------------------------------------------------------------------------------------

#: Domain length and grid of §5.3 (Linot & Graham's L = 22, 64 points).
KS_LENGTH, KS_POINTS = 22.0, 64
#: Fixed ETDRK4 step of the KS ground truth (Kassam & Trefethen use 0.25 on this equation; 0.05 is the burn-in's).
KS_DT = 0.05


@functools.lru_cache(maxsize=4)
def ks_data(n_traj: int, t_end: float, burn_in: float, seed: int) -> TrajectoryData:
    """``n_traj`` KS trajectories (L = 22, N = 64) sampled every 1.0 time unit on ``[0, t_end]`` after a burn-in
    of ``burn_in`` time units onto the attractor (batched spectral ETDRK4, fixed step ``KS_DT``)."""
    system = get_system("kuramoto_sivashinsky", preset="linot", burn_in=burn_in)
    t = np.arange(0.0, t_end + 0.5, 1.0)
    sol = solve(system, system.initial_conditions(n_traj, seed=seed), t, method="ETDRK4", dt=KS_DT)
    return TrajectoryData(t, sol.y, {"system": "kuramoto_sivashinsky", "L": KS_LENGTH}, sol.status).successful()


def ks_model(latent: int | None, p: Mapping[str, Any], phi: str = "auto") -> StructurePreservingNODE:
    """§5.3 model: ``latent=None`` is the full-space baseline (64-dim state, no autoencoder); otherwise an MLP
    autoencoder ``64 → latent``. Hurwitz ``A`` with shift ``γ = p["shift"] < 0`` (KS has growing modes),
    Lipschitz MLP ``N`` (2 hidden layers of ``p["hidden"]``, ``Lip ≤ p["lipschitz"]``), ETD1 with step 1.0."""
    dim = latent or KS_POINTS
    linear = HurwitzLinear(dim, shift=p["shift"])
    nonlinear = LipschitzMLP(dim, dim, hidden=p["hidden"], layers=2, lipschitz=p["lipschitz"], activation="tanh")
    ae = None if latent is None else Autoencoder(KS_POINTS, latent, hidden=p["ae_hidden"], layers=2, activation="gelu")
    return StructurePreservingNODE(ae.encoder if ae else None, linear, nonlinear, ae.decoder if ae else None,
                                   method="etd1", phi=phi, step_size=1.0).double()


def _phi_timing(model: StructurePreservingNODE, ts: torch.Tensor, ys: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median wall seconds of one forward + backward pass on ``(ts, ys)`` with each φ path (expm, expmv)."""
    out = {}
    for phi in ("expm", "expmv"):
        model.phi = phi
        times = []
        for _ in range(repeats + 1):
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            (model(ys[:, 0], ts) - ys).square().mean().backward()
            times.append(time.perf_counter() - t0)
        out[phi] = float(np.median(times[1:]))
    model.phi = "auto"
    model.zero_grad(set_to_none=True)
    return out


def ks_run(variant: str, seed: int, p: Mapping[str, Any]) -> dict[str, Any]:
    """Train one KS model (``variant``: ``full`` or ``latent<d>``) on 8-step windows and evaluate it: training
    seconds per epoch, time per batch of the expm and expmv paths, pointwise agreement time of rollouts from
    test states (first time the relative error exceeds ``p["agree_threshold"]``), and the joint PDF of
    ``(u_x, u_xx)`` of long rollouts against the truth's (Hellinger distance, KL divergence)."""
    data = ks_data(p["n_traj"], p["t_end"], p["burn_in"], p["data_seed"])
    train, val, test = data.split([0.8, 0.1, 0.1], seed=p["data_seed"])
    torch.manual_seed(seed)
    latent = None if variant == "full" else int(variant.removeprefix("latent"))
    model = ks_model(latent, p)
    window = p["steps"] + 1
    fit = _train(model, train, val, p, seed, window=window)
    ts, ys = train.windows(window)
    timing = _phi_timing(model, ts[: p["batch_size"]], ys[: p["batch_size"]], p["timing_repeats"])
    # pointwise agreement and statistics from the first state of each test trajectory
    y = torch.as_tensor(test.y)
    t = torch.as_tensor(test.t)
    with torch.no_grad():
        pred = model(y[:, 0], t)
    err = (torch.linalg.norm(pred - y, dim=-1) / torch.linalg.norm(y, dim=-1).clamp_min(1e-12)).numpy()
    bad = ~(err <= p["agree_threshold"])
    agree = np.where(bad.any(axis=1), test.t[bad.argmax(axis=1)], test.t[-1])
    finite = np.isfinite(pred.numpy()).all(axis=(1, 2))
    skip = p["stats_skip"]
    truth_u = test.y[:, skip:]
    ref_u = val.y[:, skip:]  # an independent truth sample: the floor of the distance
    ux, uxx = spectral_derivatives(truth_u, KS_LENGTH)
    edges = pdf_grid((float(ux.min()), float(ux.max())), (float(uxx.min()), float(uxx.max())), bins=p["pdf_bins"])
    p_true, p_ref = joint_pdf(truth_u, KS_LENGTH, edges), joint_pdf(ref_u, KS_LENGTH, edges)
    out: dict[str, Any] = {**fit, "time_expm_s": timing["expm"], "time_expmv_s": timing["expmv"],
                           "agreement_time": agree.tolist(), "mean_agreement_time": float(agree.mean()),
                           "rollouts_finite": int(finite.sum()), "n_test": int(test.n),
                           "hellinger_truth_vs_truth": hellinger(p_true, p_ref),
                           "pdf_edges": [e.tolist() for e in edges], "pdf_truth": p_true.density.tolist(),
                           "plot_truth": test.y[0, :p["plot_steps"]].tolist(),
                           "plot_pred": pred[0, :p["plot_steps"]].numpy().tolist()}
    if finite.all():
        p_model = joint_pdf(pred[:, skip:].numpy(), KS_LENGTH, edges)
        out.update({"hellinger": hellinger(p_model, p_true), "kl": kl_divergence(p_true, p_model),
                    "pdf_model": p_model.density.tolist()})
    else:
        out.update({"hellinger": 1.0, "kl": math.inf, "pdf_model": None})
    return out

