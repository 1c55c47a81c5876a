# Batched ground truth: one EnsembleProblem over the initial states.

as_abstol(abstol::Real) = Float64(abstol)
as_abstol(abstol::AbstractVector) = Vector{Float64}(abstol)

"""
    InitialStates(encode, U0)

Ensemble `prob_func`: trajectory `i` starts from row `i` of `U0` `[batch, dim]` (mapped by `encode` into
the problem's state). SciMLBase 3 calls `prob_func(prob, ctx)` with the trajectory index `ctx.sim_id`;
the `(prob, i, repeat)` form of SciMLBase 2 is accepted too.
"""
struct InitialStates{E}
    encode::E
    U0::Matrix{Float64}
end

(s::InitialStates)(prob, ctx) = remake(prob; u0=s.encode(s.U0[ctx.sim_id, :]))
(s::InitialStates)(prob, i::Integer, repeat) = remake(prob; u0=s.encode(s.U0[i, :]))

"""
    solve_ensemble(system, params, u0s, tsave, alg, reltol, abstol; maxiters=100_000, dt=0.0)

Solve `system` (name, parameter vector `params`) from every row of `u0s` `[batch, dim]` and save at
`tsave` `[T]` (`tsave[1]` is the initial time) with the method named `alg`, using `EnsembleThreads`.
`dt > 0` sets the (initial) step; fixed-step exponential methods require it.

Returns `(y, codes, nf, njac, steps)`: `y` `[batch, T, dim]` (rows after a failure are `NaN`),
`codes` the per-trajectory `ReturnCode` names, and per-trajectory function evaluations, Jacobian
evaluations and accepted steps.
"""
function solve_ensemble(system::AbstractString, params, u0s, tsave, alg::AbstractString, reltol::Real, abstol;
                        maxiters::Integer=100_000, dt::Real=0.0)
    U0 = Matrix{Float64}(u0s)
    ts = Vector{Float64}(tsave)
    p = Vector{Float64}(params)
    spec = method_spec(alg)
    n, dim = size(U0)
    if spec.fixed_step && !(dt > 0)
        throw(ArgumentError("method $alg is fixed-step: pass dt > 0"))
    end
    prob, encode, decode = build_problem(system, p, U0[1, :], (ts[1], ts[end]); split=spec.split)
    atol = as_abstol(abstol)
    if spec.split && atol isa Vector && system == "kuramoto_sivashinsky"
        throw(ArgumentError("a per-component abstol is not supported for split KS (Fourier coordinates)"))
    end
    eprob = EnsembleProblem(prob; prob_func=InitialStates(encode, U0), safetycopy=false)
    kwargs = (saveat=ts, reltol=Float64(reltol), abstol=atol, maxiters=Int(maxiters))
    if dt > 0
        kwargs = merge(kwargs, (dt=Float64(dt),))
    end
    sim = solve(eprob, spec.make(), EnsembleThreads(); trajectories=n, kwargs...)
    Y = fill(NaN, n, length(ts), dim)
    codes = Vector{String}(undef, n)
    nf = fill(-1, n)
    njac = fill(-1, n)
    steps = fill(-1, n)
    for i in 1:n
        sol = sim.u[i]
        # match saved states to output times by value: an early stop may append the state at the
        # failure time, which belongs to no output time
        for (j, tj) in enumerate(sol.t)
            k = searchsortedfirst(ts, tj)
            if k <= length(ts) && ts[k] == tj
                Y[i, k, :] .= decode(sol.u[j])
            end
        end
        codes[i] = string(Symbol(sol.retcode))
        if sol.stats !== nothing
            nf[i] = sol.stats.nf
            njac[i] = sol.stats.njacs
            steps[i] = sol.stats.naccept
        end
    end
    return (Y, codes, nf, njac, steps)
end
