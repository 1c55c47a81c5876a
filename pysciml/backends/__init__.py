"""Ground-truth backends behind :func:`pysciml.solve` (``python`` default, optional ``julia``).

Kept free of heavy imports: the Julia worker process imports parts of this package and must never
import torch.
"""

from __future__ import annotations
