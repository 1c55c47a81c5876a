# Krylov matrix-exponential helpers (ExponentialUtilities), exposed to Python for checks and for
# exponential-integrator work outside an ODE solve.

"""
    expv_apply(t, A, b; m=30, tol=1e-12) -> Vector{Float64}

`exp(t A) b` by Krylov projection (`ExponentialUtilities.expv`); `A` `[n, n]`, `b` `[n]`.
"""
function expv_apply(t::Real, A, b; m::Integer=30, tol::Real=1e-12)
    Am = Matrix{Float64}(A)
    bv = Vector{Float64}(b)
    return expv(Float64(t), Am, bv; m=min(Int(m), length(bv)), tol=Float64(tol))
end

"""
    phiv_apply(t, A, b, k; m=30, tol=1e-12) -> Matrix{Float64}

`[φ₀(tA)b  φ₁(tA)b … φ_k(tA)b]` `[n, k+1]` (`ExponentialUtilities.phiv`), with `φ₀ = exp`.
"""
function phiv_apply(t::Real, A, b, k::Integer; m::Integer=30, tol::Real=1e-12)
    Am = Matrix{Float64}(A)
    bv = Vector{Float64}(b)
    return phiv(Float64(t), Am, bv, Int(k); m=min(Int(m), length(bv)), tol=Float64(tol))
end
