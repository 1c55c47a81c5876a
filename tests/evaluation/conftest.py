"""The evaluation tests run many small sequential solver steps: one torch thread (two threads on a loaded
two-core machine make each tiny step wait on the other thread, ~10x slower)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
