"""Regression tests of issue 18 for the system catalogue: ``initial_conditions`` checks ``n``, ``seed`` and the
memory of the result for every system (KS with n = 10^6 used to build a 5 GB intermediate)."""

from __future__ import annotations

import numpy as np
import pytest

from pysciml import systems
from pysciml.errors import InputTypeError, ValidationError
from pysciml.systems.base import MAX_SAMPLE_BYTES


@pytest.mark.parametrize("name", systems.available())
def test_initial_conditions_arguments_are_checked_for_every_system(name: str) -> None:
    system = systems.get(name)
    for n, err in ((0, ValidationError), (-1, ValidationError), (2.0, InputTypeError), (True, InputTypeError),
                   ("3", InputTypeError)):
        with pytest.raises(err, match="n must"):
            system.initial_conditions(n)
    for seed, err in ((-1, ValidationError), (1.5, InputTypeError), ("s", InputTypeError)):
        with pytest.raises(err, match="seed must"):
            system.initial_conditions(2, seed)
    too_many = MAX_SAMPLE_BYTES // (8 * system.dim) + 1
    with pytest.raises(ValidationError, match="sample in chunks"):
        system.initial_conditions(too_many)
    y0 = system.initial_conditions(3, seed=np.int64(5))
    assert y0.shape == (3, system.dim) and np.array_equal(y0, system.initial_conditions(3, seed=5))


def test_ks_million_initial_conditions_is_refused_at_once() -> None:
    ks = systems.get("kuramoto_sivashinsky")
    with pytest.raises(ValidationError, match="n = 1000000 initial states of dimension 64"):
        ks.initial_conditions(10 ** 6)


def test_ks_blocked_sine_sum_matches_the_direct_formula() -> None:
    ks = systems.get("kuramoto_sivashinsky", preset="lpsda", burn_in=0.0)  # the raw random-sine fields
    n = 5000  # more than one block of the sine sum
    u0 = ks.initial_conditions(n, seed=3)
    rng = np.random.default_rng(3)
    amp = rng.uniform(-0.5, 0.5, size=(n, 10, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 10, 1))
    ell = rng.choice(np.array([1, 2]), size=(n, 10, 1))
    direct = (amp * np.sin(2.0 * np.pi * ell * ks.grid() / 64.0 + phase)).sum(axis=1)
    np.testing.assert_allclose(u0, direct, rtol=0, atol=1e-13)


def test_get_with_an_instance_and_parameters_is_an_input_error() -> None:
    with pytest.raises(InputTypeError, match="System instance"):
        systems.get(systems.get("robertson"), k1=1.0)
