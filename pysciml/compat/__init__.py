"""torchdiffeq drop-in: ``from pysciml.compat import odeint, odeint_adjoint, odeint_event`` is the whole migration
(``odeint_dense`` too).

The functions take torchdiffeq's arguments and return what torchdiffeq returns (time-first solutions, tuple
states, states of any shape including 0-dim, decreasing ``t``, events), run on pysciml's tableaux and steppers:

* adaptive ``dopri8``, ``dopri5`` (default), ``bosh3``, ``fehlberg2``, ``adaptive_heun`` (and pysciml's ``tsit5``)
  with torchdiffeq's step control and options (:mod:`._adaptive`);
* fixed-grid ``euler``, ``midpoint``, ``heun2``, ``heun3``, ``rk4`` (Kutta's 3/8 rule, as torchdiffeq's),
  ``explicit_adams``, ``implicit_adams`` (= ``fixed_adams``) with ``step_size``/``grid_constructor``/``interp``/
  ``perturb`` (:mod:`._fixed`);
* ``scipy_solver`` (SciPy, no gradients), and every other pysciml method (e.g. the stiff ``rodas5p``) through
  :func:`pysciml.odeint` (:mod:`._other`).

Like torchdiffeq, the whole state is *one* problem: one step size and a batch-wide error norm for everything in
``y0``. :func:`pysciml.odeint` is the per-sample alternative (batch-first ``[batch, time, *state]``, every sample
with its own steps and status).
"""

from __future__ import annotations

from ._adjoint import odeint_adjoint
from ._errors import SolveFailedError
from ._fixed import adams_coefficients
from ._solve import TORCHDIFFEQ_METHODS, methods, odeint, odeint_dense, odeint_event

__all__ = ["TORCHDIFFEQ_METHODS", "SolveFailedError", "adams_coefficients", "methods", "odeint", "odeint_adjoint",
           "odeint_dense", "odeint_event"]
