# Adjoint / forward sensitivities of a trajectory loss (SciMLSensitivity + Zygote).

const SENSEALGS = Dict{String,Function}(
    "GaussAdjoint" => () -> GaussAdjoint(),
    "InterpolatingAdjoint" => () -> InterpolatingAdjoint(),
    "InterpolatingAdjointCheckpointing" => () -> InterpolatingAdjoint(checkpointing=true),
    "QuadratureAdjoint" => () -> QuadratureAdjoint(),
    "BacksolveAdjoint" => () -> BacksolveAdjoint(),
    "ForwardDiffSensitivity" => () -> ForwardDiffSensitivity(),
)

function sensealg_named(name::AbstractString)
    haskey(SENSEALGS, name) && return SENSEALGS[name]()
    throw(ArgumentError("unknown sensealg $(repr(name)); available: $(join(sort!(collect(keys(SENSEALGS))), ", "))"))
end

"""
    loss_sensitivity(system, params, u0, tsave, data, alg; sensealg="GaussAdjoint", loss="sse",
                     reltol=1e-8, abstol=1e-10, maxiters=100_000) -> (value, grad_p, grad_u0, y)

Loss of the trajectory `Y` `[T, dim]` saved at `tsave` and its gradient with respect to the parameter
vector and the initial state, by reverse-mode AD (Zygote) through `solve` with the SciMLSensitivity
algorithm `sensealg`. `loss = "sse"`: `½ Σ (Y - data)²`; `loss = "dot"`: `Σ data ⊙ Y` (a
vector-Jacobian product with cotangent `data`, used by the torch autograd bridge). Only non-split
problems (not Kuramoto–Sivashinsky) are supported. Returns the trajectory `y` `[T, dim]` too.

A system without parameters (`two_body`) is differentiated with one placeholder parameter that its
field never reads: SciMLSensitivity sizes its parameter-gradient work by `length(p)` (with
`ForwardDiffSensitivity` an empty `p` gives chunk size 0 and `0 ÷ 0`: SciMLSensitivity 7.112.2,
`src/concrete_solve.jl` lines 1296–1304), so no adjoint method is handed an empty
vector. The placeholder's gradient is dropped: `grad_p` then has length 0.
"""
function loss_sensitivity(system::AbstractString, params, u0, tsave, data, alg::AbstractString;
                          sensealg::AbstractString="GaussAdjoint", loss::AbstractString="sse",
                          reltol::Real=1e-8, abstol::Real=1e-10, maxiters::Integer=100_000)
    system == "kuramoto_sivashinsky" && throw(ArgumentError(
        "sensitivity is not supported for kuramoto_sivashinsky (FFT right-hand side)"))
    loss in ("sse", "dot") || throw(ArgumentError("loss must be \"sse\" or \"dot\", got $(repr(loss))"))
    p0 = Vector{Float64}(params)
    x0 = Vector{Float64}(u0)
    ts = Vector{Float64}(tsave)
    D = Matrix{Float64}(data)
    spec = method_spec(alg)
    spec.split && throw(ArgumentError("method $alg needs a split problem; choose a non-split method"))
    p_ad = isempty(p0) ? [0.0] : p0  # placeholder for parameter-free systems (see the docstring)
    prob, _, _ = build_problem(system, p_ad, x0, (ts[1], ts[end]))
    sa = sensealg_named(sensealg)
    opts = (saveat=ts, reltol=Float64(reltol), abstol=Float64(abstol), maxiters=Int(maxiters))
    forward = solve(prob, spec.make(); opts...)
    success_code(forward.retcode) || throw(ErrorException(
        "forward solve failed with return code $(Symbol(forward.retcode))"))
    Y = permutedims(Array(forward))  # [T, dim]
    function objective(x, p)
        sol = solve(remake(prob; u0=x, p=p), spec.make(); sensealg=sa, opts...)
        Z = permutedims(Array(sol))
        return loss == "sse" ? sum(abs2, Z .- D) / 2 : sum(Z .* D)
    end
    value = loss == "sse" ? sum(abs2, Y .- D) / 2 : sum(Y .* D)
    gx, gp = Zygote.gradient(objective, x0, p_ad)
    grad_p = (gp === nothing || isempty(p0)) ? zeros(length(p0)) : Vector{Float64}(gp)
    grad_u0 = gx === nothing ? zeros(length(x0)) : Vector{Float64}(gx)
    return (value, grad_p, grad_u0, Y)
end
