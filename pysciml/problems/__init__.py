"""Standard test problems with published reference solutions, for solver studies and accuracy tests."""

from .stiff_test_set import STIFF_PROBLEMS, StiffProblem, mixed_digits

__all__ = ["STIFF_PROBLEMS", "StiffProblem", "mixed_digits"]
