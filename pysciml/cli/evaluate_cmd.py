"""``pysciml evaluate robustness | rollout | report``: evaluate a trained model saved by a pysciml trainer.

Each sub-command rebuilds the model with :func:`pysciml.load_model` (checksummed, ``weights_only`` loading) and
calls the library function that does the work, writing JSON and figures to ``--out``:
:func:`pysciml.evaluation.robustness_report`, :func:`pysciml.evaluation.rollout_report`,
:func:`pysciml.evaluation.stability_report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ValidationError

__all__ = ["add_parser"]

_IMAGE_SETS = ("mnist", "fashion_mnist")


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ValidationError(f"{name} must be comma-separated numbers such as 0,0.1,0.2, got {text!r}") from exc


def _classification_test_data(data: str, seed: int) -> tuple[Any, Any]:
    """Test split ``(x, y)`` of a toy set or image set by name, or ``(x, labels)`` of an ``.npz`` file."""
    from .. import datasets

    if data in datasets.TOY_DATASETS:
        return datasets.toy_dataset(data, seed=seed).test
    if data == "mnist":
        return datasets.load_mnist(flatten=True).test
    if data == "fashion_mnist":
        return datasets.load_fashion_mnist(flatten=True).test
    if Path(data).suffix == ".npz":
        return datasets.load_npz(data, "--data")
    raise ValidationError(f"--data must be a toy set ({', '.join(sorted(datasets.TOY_DATASETS))}), "
                          f"{' or '.join(_IMAGE_SETS)}, or an .npz file with x [n, d] and labels [n]; got {data!r}")


def _model_dtype(model: Any) -> Any:
    import torch

    for p in model.parameters():
        return p.dtype
    return torch.get_default_dtype()


def run_robustness(args: argparse.Namespace) -> int:
    """FGSM/PGD and Gaussian-noise accuracy curves and decision-boundary distances of a classifier."""
    from ..evaluation import robustness_report
    from ..training.checkpoint import load_model

    model = load_model(args.checkpoint)
    x, y = _classification_test_data(args.data, args.seed)
    x = x.to(_model_dtype(model))
    if args.max_points is not None and args.max_points < x.shape[0]:
        x, y = x[: args.max_points], y[: args.max_points]
    clip = _floats(args.clip, "--clip")
    if clip is not None and len(clip) != 2:
        raise ValidationError(f"--clip takes two numbers LOW,HIGH, got {args.clip!r}")
    report = robustness_report(model, x, y, args.out, epsilons=_floats(args.epsilons, "--epsilons"),
                               sigmas=_floats(args.sigmas, "--sigmas"), attacks=args.attacks.split(","),
                               n_draws=args.n_draws, n_directions=args.n_directions,
                               boundary_points=args.boundary_points, clip=None if clip is None else tuple(clip),
                               seed=args.seed, label=Path(args.checkpoint).stem, progress=not args.no_progress)
    print(f"clean accuracy {report.get('clean_accuracy', float('nan')):.4f}; robustness.json and figures in "
          f"{args.out}")
    return 0


def run_rollout(args: argparse.Namespace) -> int:
    """Long-rollout metrics of a learned dynamical system on a test dataset."""
    from ..evaluation import rollout_report
    from ..training.checkpoint import load_model

    model = load_model(args.checkpoint)
    options: dict[str, Any] = {}
    if args.step_size is not None:
        options["step_size"] = args.step_size
    rollout_report(model, args.data, args.out, horizon=args.horizon, method=args.method,
                   chunk_size=args.chunk_size, threshold=args.threshold, progress=not args.no_progress, **options)
    print(f"rollout.json, rollout_errors.npz and figures in {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Stability report: Jacobian spectra along trajectories and certified bounds."""
    from ..evaluation import stability_report
    from ..training.checkpoint import load_model

    model = load_model(args.checkpoint)
    stability_report(model, args.data, args.out)
    print(f"stability.json{' and figures' if args.data else ''} in {args.out}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``evaluate`` and its three sub-commands on ``subparsers``."""
    p = subparsers.add_parser("evaluate", help="evaluate a trained model (robustness, long rollouts, stability)",
                              description="Evaluate a model saved by `pysciml train` (checkpoint.pt or "
                                          "best_model.pt); each sub-command writes JSON and figures to --out.")
    sub = p.add_subparsers(dest="evaluate_command", metavar="WHAT", required=True)

    r = sub.add_parser("robustness", help="adversarial / noise accuracy curves, distance to the decision boundary",
                       description="Accuracy vs ε under FGSM/PGD (Josias & Brink, SACAIR 2022, eq. 8), accuracy "
                                   "vs Gaussian-noise σ, and the distance of test points to the decision boundary "
                                   "of a classifier. Writes robustness.json, adversarial.png, noise.png, "
                                   "boundary_distance.png.")
    r.add_argument("checkpoint", help="classifier checkpoint (checkpoint.pt / best_model.pt)")
    r.add_argument("--data", required=True, help="test data: moons, spiral, annulus, broken_annulus (test split "
                   "with --seed), mnist, fashion_mnist (flattened test images), or an .npz with x and labels")
    r.add_argument("--out", default="out/evaluate/robustness", help="output folder (default: %(default)s)")
    r.add_argument("--epsilons", help="comma-separated ε grid (default: 11 values from 0 to 0.5·std(x))")
    r.add_argument("--sigmas", help="comma-separated σ grid (default: 11 values from 0 to std(x))")
    r.add_argument("--attacks", default="fgsm,pgd-linf", help="comma-separated attacks (default: %(default)s)")
    r.add_argument("--n-draws", type=int, default=5, help="noise draws per σ (default: %(default)s)")
    r.add_argument("--n-directions", type=int, default=100,
                   help="directions per sphere in the boundary search (default: %(default)s)")
    r.add_argument("--boundary-points", type=int, default=500,
                   help="test points given the boundary search (default: %(default)s)")
    r.add_argument("--max-points", type=int, default=None, help="use only the first N test points")
    r.add_argument("--clip", help="input range LOW,HIGH to clip perturbed inputs to (e.g. 0,1 for images)")
    r.add_argument("--seed", type=int, default=0, help="seed of the toy test split, attacks and noise")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    r.set_defaults(func=run_robustness)

    ro = sub.add_parser("rollout", help="long-rollout metrics R_e(t), L_traj, divergence, conservation",
                        description="Roll the model out from the test trajectories' initial states and compare "
                                    "with them (Janvier et al., arXiv:2602.04608): R_e(t), L_traj, time to "
                                    "divergence, final errors, conservation errors, ε_θ and J_e, and for "
                                    "Kuramoto–Sivashinsky the joint PDF of (u_x, u_xx).")
    ro.add_argument("checkpoint", help="model checkpoint (checkpoint.pt / best_model.pt)")
    ro.add_argument("--data", required=True, help="test dataset (HDF5 written by `pysciml generate`)")
    ro.add_argument("--horizon", type=int, default=None, help="output steps to roll out (default: all)")
    ro.add_argument("--method", default=None, help="odeint method (default: the model's own or rk4)")
    ro.add_argument("--step-size", type=float, default=None, help="fixed step size (time units)")
    ro.add_argument("--chunk-size", type=int, default=1000,
                    help="output steps per chunk: memory stays flat in the horizon (default: %(default)s)")
    ro.add_argument("--threshold", type=float, default=1.0,
                    help="R_e above which a trajectory counts as diverged (default: %(default)s)")
    ro.add_argument("--out", default="out/evaluate/rollout", help="output folder (default: %(default)s)")
    ro.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ro.set_defaults(func=run_rollout)

    rep = sub.add_parser("report", help="stability report: Jacobian spectra, stiffness, certified bounds",
                         description="Jacobian spectra, numerical abscissa, log-norms and stiffness index of the "
                                     "model along trajectories, plus its certified bounds (Lipschitz, Hurwitz "
                                     "shift, StableNODE δ). Without --data only the certificates.")
    rep.add_argument("checkpoint", help="model checkpoint (checkpoint.pt / best_model.pt)")
    rep.add_argument("--data", default=None, help="trajectories (HDF5 dataset) to analyse along")
    rep.add_argument("--out", default="out/evaluate/report", help="output folder (default: %(default)s)")
    rep.set_defaults(func=run_report)
    return p
