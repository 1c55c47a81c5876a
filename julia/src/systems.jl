# Catalogue systems, mirroring pysciml/systems/*.py. Every system is built from a name, a parameter
# vector `p::Vector{Float64}` (order fixed by the Python bridge, `JULIA_SYSTEMS` in
# pysciml/backends/julia.py) and the state dimension. States are real vectors, autonomous fields.

"""
    SystemModel

A catalogue system ready for `ODEProblem`: in-place field `f!(du, u, p, t)`, analytic Jacobian
`jac!(J, u, p, t)` and, for semilinear systems, a split `L u + N(u)` (`split_problem`).
"""
struct SystemModel{F,J}
    f!::F
    jac!::J
end

zero_tgrad!(dT, u, p, t) = fill!(dT, zero(eltype(dT)))

# ---------------------------------------------------------------- Robertson (p = [k1, k2, k3, y2_scale])
function robertson!(du, u, p, t)
    k1, k2, k3, s = p[1], p[2], p[3], p[4]
    y1, y2, y3 = u[1], u[2] / s, u[3]
    r1 = k1 * y1
    r2 = k2 * y2 * y2
    r3 = k3 * y2 * y3
    du[1] = -r1 + r3
    du[2] = (r1 - r3 - r2) * s
    du[3] = r2
    return nothing
end

function robertson_jac!(J, u, p, t)
    k1, k2, k3, s = p[1], p[2], p[3], p[4]
    y2, y3 = u[2] / s, u[3]
    fill!(J, zero(eltype(J)))
    J[1, 1] = -k1
    J[1, 2] = k3 * y3 / s
    J[1, 3] = k3 * y2
    J[2, 1] = k1 * s
    J[2, 2] = -k3 * y3 - 2 * k2 * y2
    J[2, 3] = -k3 * y2 * s
    J[3, 2] = 2 * k2 * y2 / s
    return nothing
end

# ---------------------------------------------------------------- Kepler two-body (no parameters, GM = 1)
function two_body!(du, u, p, t)
    x, y = u[1], u[2]
    r2 = x * x + y * y
    r3 = r2 * sqrt(r2)
    du[1] = u[3]
    du[2] = u[4]
    du[3] = -x / r3
    du[4] = -y / r3
    return nothing
end

function two_body_jac!(J, u, p, t)
    x, y = u[1], u[2]
    r2 = x * x + y * y
    r3 = r2 * sqrt(r2)
    r5 = r3 * r2
    fill!(J, zero(eltype(J)))
    J[1, 3] = 1
    J[2, 4] = 1
    J[3, 1] = 3 * x * x / r5 - 1 / r3
    J[3, 2] = 3 * x * y / r5
    J[4, 1] = 3 * x * y / r5
    J[4, 2] = 3 * y * y / r5 - 1 / r3
    return nothing
end

# ---------------------------------------------------------------- free rigid body (p = [I1, I2, I3])
rigid_coeffs(p) = (1 / p[3] - 1 / p[2], 1 / p[1] - 1 / p[3], 1 / p[2] - 1 / p[1])

function rigid_body!(du, u, p, t)
    a1, a2, a3 = rigid_coeffs(p)
    du[1] = a1 * u[2] * u[3]
    du[2] = a2 * u[3] * u[1]
    du[3] = a3 * u[1] * u[2]
    return nothing
end

function rigid_body_jac!(J, u, p, t)
    a1, a2, a3 = rigid_coeffs(p)
    fill!(J, zero(eltype(J)))
    J[1, 2] = a1 * u[3]
    J[1, 3] = a1 * u[2]
    J[2, 1] = a2 * u[3]
    J[2, 3] = a2 * u[1]
    J[3, 1] = a3 * u[2]
    J[3, 2] = a3 * u[1]
    return nothing
end

# ---------------------------------------------------------------- transient growth (p = [A11, A12, A21, A22, ε])
tg_matrix(p) = [p[1] p[2]; p[3] p[4]]

function transient_growth!(du, u, p, t)
    eps = p[5]
    du[1] = p[1] * u[1] + p[2] * u[2] + eps * u[1] * u[1]
    du[2] = p[3] * u[1] + p[4] * u[2] + eps * u[2] * u[2]
    return nothing
end

function transient_growth_jac!(J, u, p, t)
    eps = p[5]
    J[1, 1] = p[1] + 2 * eps * u[1]
    J[1, 2] = p[2]
    J[2, 1] = p[3]
    J[2, 2] = p[4] + 2 * eps * u[2]
    return nothing
end

function transient_growth_nonlinear!(du, u, p, t)
    du .= p[5] .* u .* u
    return nothing
end

# ---------------------------------------------------------------- Kuramoto–Sivashinsky (p = [L, dealias])
"""
    KSSpectral(L, N, dealias)

Fourier symbols of pseudo-spectral KS on `N` points of `[0, L)` (rfft modes `m = 0..N/2`,
`k = 2πm/L`): linear `k² - k⁴`, nonlinear `-ik/2` (Nyquist zeroed; 2/3-rule mask when `dealias`).
"""
struct KSSpectral
    n::Int
    lin::Vector{Float64}
    nl::Vector{ComplexF64}
end

function KSSpectral(L::Real, n::Integer, dealias::Bool)
    iseven(n) || throw(ArgumentError("KS grid size N must be even, got $n"))
    m = 0:(n ÷ 2)
    k = 2π .* m ./ L
    nl = ComplexF64.(-0.5im .* k)
    nl[end] = 0
    if dealias
        nl[m .>= n / 3] .= 0
    end
    return KSSpectral(n, k .^ 2 .- k .^ 4, nl)
end

ks_apply(c::KSSpectral, symbol, u) = irfft(symbol .* rfft(u), c.n)

function ks_field!(du, u, c::KSSpectral, t)
    du .= irfft(c.lin .* rfft(u) .+ c.nl .* rfft(u .* u), c.n)
    return nothing
end

"Dense real-space matrix of a Fourier multiplier (column j = image of the j-th unit vector)."
function ks_matrix(c::KSSpectral, symbol)
    M = zeros(c.n, c.n)
    e = zeros(c.n)
    for j in 1:c.n
        e[j] = 1
        M[:, j] .= ks_apply(c, symbol, e)
        e[j] = 0
    end
    return M
end

"KS with the state in real space and the analytic Jacobian `L + 2 N_mat diag(u)`."
function ks_model(c::KSSpectral)
    Lmat = ks_matrix(c, c.lin)
    Nmat = ks_matrix(c, c.nl)
    jac! = function (J, u, p, t)
        J .= Lmat .+ 2 .* Nmat .* transpose(u)
        return nothing
    end
    return SystemModel(ks_field!, jac!)
end

# Fourier coordinates for the split problem: v = [Re(û); Im(û)] with û = rfft(u), so that the
# linear part is the real diagonal operator diag(k² - k⁴, k² - k⁴).
ks_encode(c::KSSpectral, u) = (uh = rfft(u); vcat(real.(uh), imag.(uh)))

function ks_decode(c::KSSpectral, v)
    m = c.n ÷ 2 + 1
    return irfft(complex.(v[1:m], v[(m + 1):end]), c.n)
end

function ks_split_nonlinear!(dv, v, c::KSSpectral, t)
    m = c.n ÷ 2 + 1
    u = ks_decode(c, v)
    w = c.nl .* rfft(u .* u)
    dv[1:m] .= real.(w)
    dv[(m + 1):end] .= imag.(w)
    return nothing
end

# ---------------------------------------------------------------- problem construction
const SYSTEMS = ("robertson", "two_body", "rigid_body", "transient_growth", "kuramoto_sivashinsky")

"Names of the systems this module defines."
system_names() = collect(SYSTEMS)

function plain_model(system::AbstractString)
    system == "robertson" && return SystemModel(robertson!, robertson_jac!)
    system == "two_body" && return SystemModel(two_body!, two_body_jac!)
    system == "rigid_body" && return SystemModel(rigid_body!, rigid_body_jac!)
    system == "transient_growth" && return SystemModel(transient_growth!, transient_growth_jac!)
    throw(ArgumentError("unknown system $(repr(system)); available: $(join(SYSTEMS, ", "))"))
end

"""
    build_problem(system, p, u0, tspan; split=false) -> (prob, encode, decode)

`ODEProblem` (analytic Jacobian, zero time derivative) of a catalogue system, or with `split=true`
a `SplitODEProblem` `L u + N(u)` for exponential integrators (KS: diagonal operator in Fourier
coordinates; transient growth: the 2×2 matrix). `encode`/`decode` map real-space states to and from
the problem's state vector (identity except for split KS).
"""
function build_problem(system::AbstractString, p::Vector{Float64}, u0::Vector{Float64}, tspan; split::Bool=false)
    if system == "kuramoto_sivashinsky"
        c = KSSpectral(p[1], length(u0), p[2] > 0.5)
        if split
            lin = DiagonalOperator(vcat(c.lin, c.lin))
            enc = u -> ks_encode(c, u)
            dec = v -> ks_decode(c, v)
            prob = SplitODEProblem(SplitFunction(lin, ks_split_nonlinear!), enc(u0), tspan, c)
            return prob, enc, dec
        end
        model = ks_model(c)
        fun = ODEFunction(model.f!; jac=model.jac!, tgrad=zero_tgrad!)
        return ODEProblem(fun, u0, tspan, c), identity, identity
    end
    if split
        system == "transient_growth" || throw(ArgumentError(
            "system $(repr(system)) has no semilinear split; use a non-exponential method or Exprb32/Exprb43"))
        lin = MatrixOperator(tg_matrix(p))
        return SplitODEProblem(SplitFunction(lin, transient_growth_nonlinear!), u0, tspan, p), identity, identity
    end
    model = plain_model(system)
    fun = ODEFunction(model.f!; jac=model.jac!, tgrad=zero_tgrad!)
    return ODEProblem(fun, u0, tspan, p), identity, identity
end
