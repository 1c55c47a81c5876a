"""The per-epoch band of the reproduction figures stays inside the range the seeds span."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection

from pysciml.plotting import plt
from pysciml.reproduce.figures import plot_epoch_curves


def test_band_is_clipped_to_the_seeds_range() -> None:
    # nine seeds near 20 and one outlier near 370: mean - std is negative, which no seed reached
    runs = [[20.0 + s, 21.0 + s, 22.0 + s] for s in range(9)] + [[370.0, 372.0, 374.0]]
    arr = np.asarray(runs)
    assert np.any(arr.mean(0) - arr.std(0, ddof=1) < 0.0)
    fig, ax = plt.subplots()
    plot_epoch_curves({"Frobenius": runs}, path=None, ylabel="NFE", ax=ax)  # type: ignore[arg-type]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    y = bands[0].get_paths()[0].vertices[:, 1]
    assert y.min() >= arr.min() - 1e-12
    assert y.max() <= arr.max() + 1e-12
    plt.close(fig)
