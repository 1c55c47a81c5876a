"""Datasets: HDF5 generation/loading and in-memory :class:`TrajectoryData`."""

from __future__ import annotations

from .generation import generate
from .hdf5 import FORMAT, FORMAT_VERSION, load_dataset
from .trajectory import TrajectoryData, WindowDataset

__all__ = ["FORMAT", "FORMAT_VERSION", "TrajectoryData", "WindowDataset", "generate", "load_dataset"]
