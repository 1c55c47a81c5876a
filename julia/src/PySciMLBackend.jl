"""
    PySciMLBackend

Julia side of pysciml's `julia` ground-truth backend. The Python worker process
(`pysciml/backends/_julia_worker.py`) loads this module through juliacall and calls

* `solve_ensemble(system, params, u0s, tsave, alg, reltol, abstol; maxiters, dt)` – a batch of
  trajectories with `EnsembleProblem` + `EnsembleThreads`, returning arrays and return codes;
* `loss_sensitivity(system, params, u0, tsave, data, alg; sensealg, loss, reltol, abstol, maxiters)` – a
  trajectory loss and its gradient with respect to the parameters and the initial state (SciMLSensitivity);
* `expv_apply` / `phiv_apply` – Krylov `exp(tA)b` and `φ_k(tA)b` (ExponentialUtilities).

The catalogue systems are defined natively here (`systems.jl`) with the parameter vectors documented there;
they mirror `pysciml/systems/*.py`.
"""
module PySciMLBackend

using LinearAlgebra
using FFTW: rfft, irfft
using SciMLBase
using SciMLOperators: DiagonalOperator, MatrixOperator
using OrdinaryDiffEq
using OrdinaryDiffEqRosenbrock
using OrdinaryDiffEqFIRK
using OrdinaryDiffEqSDIRK
using OrdinaryDiffEqBDF
using OrdinaryDiffEqExponentialRK
using ExponentialUtilities: expv, phiv
using SciMLSensitivity
using Zygote

include("systems.jl")
include("algorithms.jl")
include("ensemble.jl")
include("exponential.jl")
include("sensitivity.jl")

export solve_ensemble, loss_sensitivity, expv_apply, phiv_apply, method_names, system_names

end # module
