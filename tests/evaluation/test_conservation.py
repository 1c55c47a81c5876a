"""Conservation errors of every invariant the systems declare, on tight ground truth and on a drifting model."""

from __future__ import annotations

import numpy as np
import pytest

from pysciml import systems
from pysciml.errors import ValidationError
from pysciml.evaluation import conservation_errors
from pysciml.ground_truth import solve

CASES = [  # system, params, horizon, method, tolerances, expected invariants
    ("two_body", {}, 8.0, "DOP853", 1e-13, {"angular_momentum", "energy"}),
    ("rigid_body", {}, 10.0, "DOP853", 1e-13, {"casimir", "energy"}),
    ("robertson", {}, 10.0, "Radau", 1e-10, {"mass"}),
    ("kuramoto_sivashinsky", {}, 5.0, "ETDRK4", None, {"mean"}),
]


@pytest.mark.parametrize("name,params,t1,method,tol,names", CASES)
def test_ground_truth_conserves_every_invariant(name, params, t1, method, tol, names):
    system = systems.get(name, **params)
    y0 = system.initial_conditions(3, seed=0)
    t = np.linspace(0.0, t1, 41)
    opts = {"dt": 0.01} if method == "ETDRK4" else {"rtol": tol, "atol": tol * 1e-2}
    sol = solve(system, y0, t, method=method, **opts)
    errors = conservation_errors(system, sol.y)
    assert set(errors) == names
    for inv, ce in errors.items():
        assert ce.error.shape == (3, 41)
        assert np.all(ce.error[:, 0] == 0)
        assert np.max(ce.error) <= 1e-8, (inv, np.max(ce.error))
        # KS fields start with zero mean: that invariant is reported as an absolute error
        assert ce.kind == ("absolute" if inv == "mean" else "relative")


def test_drift_is_measured_exactly():
    rb = systems.get("rigid_body")
    y = np.tile(np.array([1.0, 0.5, -0.2]), (2, 5, 1))
    y *= np.linspace(1.0, 1.1, 5)[None, :, None]  # radial growth: Casimir |y|²/2 grows by the factor s²
    err = conservation_errors(rb, y)["casimir"].error
    np.testing.assert_allclose(err, np.tile(np.linspace(1.0, 1.1, 5) ** 2 - 1.0, (2, 1)), rtol=1e-12)


def test_shape_is_checked():
    with pytest.raises(ValidationError, match="shape"):
        conservation_errors(systems.get("two_body"), np.zeros((2, 3, 5)))
