# Method-name table: the names the Python bridge may send (`JULIA_METHODS` in pysciml/backends/julia.py).

"""
    MethodSpec(make, split, fixed_step)

How to build an algorithm: `make()` returns a fresh solver object; `split` marks exponential RK methods
that need a `SplitODEProblem`; `fixed_step` marks methods that need `dt`.
"""
struct MethodSpec
    make::Function
    split::Bool
    fixed_step::Bool
end

const METHODS = Dict{String,MethodSpec}(
    "Rodas5P" => MethodSpec(() -> Rodas5P(), false, false),
    "Rodas5" => MethodSpec(() -> Rodas5(), false, false),
    "Rodas4" => MethodSpec(() -> Rodas4(), false, false),
    "Rodas4P" => MethodSpec(() -> Rodas4P(), false, false),
    "Rosenbrock23" => MethodSpec(() -> Rosenbrock23(), false, false),
    "RadauIIA5" => MethodSpec(() -> RadauIIA5(), false, false),
    "KenCarp4" => MethodSpec(() -> KenCarp4(), false, false),
    "TRBDF2" => MethodSpec(() -> TRBDF2(), false, false),
    "FBDF" => MethodSpec(() -> FBDF(), false, false),
    "QNDF" => MethodSpec(() -> QNDF(), false, false),
    "Tsit5" => MethodSpec(() -> Tsit5(), false, false),
    "Vern9" => MethodSpec(() -> Vern9(), false, false),
    "ETDRK2" => MethodSpec(() -> ETDRK2(), true, true),
    "ETDRK3" => MethodSpec(() -> ETDRK3(), true, true),
    "ETDRK4" => MethodSpec(() -> ETDRK4(), true, true),
    "HochOst4" => MethodSpec(() -> HochOst4(), true, true),
    "Exprb32" => MethodSpec(() -> Exprb32(), false, false),
    "Exprb43" => MethodSpec(() -> Exprb43(), false, false),
)

"Sorted names of the supported methods."
method_names() = sort!(collect(keys(METHODS)))

function method_spec(name::AbstractString)
    haskey(METHODS, name) && return METHODS[name]
    throw(ArgumentError("unknown method $(repr(name)); available: $(join(method_names(), ", "))"))
end

# SciMLBase return codes that count as a finished integration.
success_code(rc) = SciMLBase.successful_retcode(rc)
