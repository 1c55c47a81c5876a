"""``pysciml train CONFIG.toml``: train a neural ODE as described by a TOML config."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``train`` sub-command on ``subparsers``."""
    p = subparsers.add_parser(
        "train", help="train a neural ODE from a TOML config",
        description="Train a neural ODE as described by CONFIG (see examples/configs/two_body.toml): any trainable "
                    "model of pysciml.models on an HDF5 trajectory dataset (written first from the config's "
                    "[data.generate] recipe when missing), or a NeuralODEClassifier on an .npz with x and labels. "
                    "Writes checkpoint.pt, best_model.pt (both loadable with pysciml.load_model), metrics.jsonl "
                    "and loss_curve.png to the config's out_dir. Exit status 1 when the run diverged.")
    p.add_argument("config", help="path to the TOML config file")
    p.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the training; prints the status, best epoch and monitored loss. Returns 0, or 1 if it diverged."""
    from ..training.config import train_from_config

    result = train_from_config(args.config, resume=True if args.resume else None,
                               progress=False if args.no_progress else None)
    if result.status == "diverged":
        print(f"training diverged: {result.diverged_reason}; best epoch {result.best_epoch} loss "
              f"{result.best_loss:.6g}; outputs in {result.out_dir}")
        return 1
    print(f"{result.status}: best epoch {result.best_epoch} loss {result.best_loss:.6g}; outputs in {result.out_dir}")
    return 0
