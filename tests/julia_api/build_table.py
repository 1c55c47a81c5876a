"""Build ``tests/julia_api/table.json``: where every Julia name and keyword that ``julia/src`` relies on is
defined, in the package sources at every version that ``julia/Project.toml``'s [compat] admits.

Developer tool, not run by the test suite (it needs the registry excerpt and git mirrors of the package
repositories). Usage::

    python tests/julia_api/build_table.py REGISTRY_DIR MIRROR_DIR

``REGISTRY_DIR`` is the General-registry excerpt (``../shared/julia-registry``, with ``check_pairs.py``);
``MIRROR_DIR`` holds bare clones named ``Owner+Repo.jl/repo``. Each registered version is read from the
git tree whose hash the registry records for it (``git-tree-sha1``), so the sources are exactly the
registered ones. Admitted versions of a direct dependency: those ``check_pairs`` allows; of an indirect
one (``OrdinaryDiffEqCore``, ``DiffEqBase``, ``OrdinaryDiffEqTsit5``, ``OrdinaryDiffEqVerner``): those some
admitted version of a direct dependency accepts. Every name/keyword must be found at every admitted
version whose tree the mirror holds; the table records file and line at the newest one. Exits 1 on a miss.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "table.json"

#: package -> (repository, sub-directory of the package inside it)
REPOS = {
    "SciMLBase": ("SciML/SciMLBase.jl", ""),
    "DiffEqBase": ("SciML/OrdinaryDiffEq.jl", "lib/DiffEqBase"),
    "OrdinaryDiffEq": ("SciML/OrdinaryDiffEq.jl", ""),
    "OrdinaryDiffEqCore": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqCore"),
    "OrdinaryDiffEqRosenbrock": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqRosenbrock"),
    "OrdinaryDiffEqFIRK": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqFIRK"),
    "OrdinaryDiffEqSDIRK": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqSDIRK"),
    "OrdinaryDiffEqBDF": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqBDF"),
    "OrdinaryDiffEqExponentialRK": ("SciML/OrdinaryDiffEq.jl", "lib/OrdinaryDiffEqExponentialRK"),
    "SciMLSensitivity": ("SciML/SciMLSensitivity.jl", ""),
    "SciMLOperators": ("SciML/SciMLOperators.jl", ""),
    "ExponentialUtilities": ("SciML/ExponentialUtilities.jl", ""),
}
INDIRECT = {"DiffEqBase": ("OrdinaryDiffEqCore",), "OrdinaryDiffEqCore": ("OrdinaryDiffEq",)}

#: unqualified name used in julia/src -> the package whose export list must contain it
EXPORTS = {
    **dict.fromkeys(["Rodas5P", "Rodas5", "Rodas4", "Rodas4P", "Rosenbrock23"], "OrdinaryDiffEqRosenbrock"),
    "RadauIIA5": "OrdinaryDiffEqFIRK",
    **dict.fromkeys(["KenCarp4", "TRBDF2"], "OrdinaryDiffEqSDIRK"),
    **dict.fromkeys(["FBDF", "QNDF"], "OrdinaryDiffEqBDF"),
    **dict.fromkeys(["Tsit5", "Vern9"], "OrdinaryDiffEq"),
    **dict.fromkeys(["ETDRK2", "ETDRK3", "ETDRK4", "HochOst4", "Exprb32", "Exprb43"],
                    "OrdinaryDiffEqExponentialRK"),
    **dict.fromkeys(["GaussAdjoint", "InterpolatingAdjoint", "QuadratureAdjoint", "BacksolveAdjoint",
                     "ForwardDiffSensitivity"], "SciMLSensitivity"),
    **dict.fromkeys(["EnsembleProblem", "EnsembleThreads", "remake", "solve", "ODEProblem", "ODEFunction",
                     "SplitODEProblem", "SplitFunction"], "SciMLBase"),
    **dict.fromkeys(["DiagonalOperator", "MatrixOperator"], "SciMLOperators"),
    **dict.fromkeys(["expv", "phiv"], "ExponentialUtilities"),
}
#: names used qualified (``SciMLBase.successful_retcode``): a definition must exist
DEFINED = {"successful_retcode": ("SciMLBase", "src/retcodes.jl", r"^function successful_retcode\(")}

# keyword (or positional) signature hops: call -> keyword -> [(package, file, start regex, keyword regex)].
# The keyword regex must match within the signature that starts at the start regex (up to its closing
# ``)``); several hops mean the keyword is forwarded (``kwargs...``) to the next function.
_SOLVE_INIT = ("OrdinaryDiffEqCore", "src/solve.jl", r"function SciMLBase\.__init\(", r"^\s*kwargs\.\.\.$")
_ODE_INIT = ("OrdinaryDiffEqCore", "src/solve.jl", r"function _ode_init\(")
_ENS = ("SciMLBase", "src/ensemble/ensemble_problems.jl", r"^function EnsembleProblem\(\s*$")
_EXPV = ("ExponentialUtilities", "src/krylov_phiv.jl", r"^function expv\(t, A, b; .*kwargs\.\.\.\)")
_EXPV_HB = ("ExponentialUtilities", "src/krylov_phiv.jl", r"^function _expv_hb\(")
_PHIV = ("ExponentialUtilities", "src/krylov_phiv.jl", r"^function phiv\(\s*$")
_ARNOLDI = ("ExponentialUtilities", "src/arnoldi.jl", r"^function arnoldi\(\s*$")
_ARNOLDI_BANG = ("ExponentialUtilities", "src/arnoldi.jl", r"^function arnoldi!\(\s*$")
KEYWORDS: dict[str, dict[str, list[tuple[str, str, str, str]]]] = {
    "solve": {
        **{kw: [_SOLVE_INIT, (*_ODE_INIT, rf"^\s*{kw} = ")] for kw in ("saveat", "reltol", "abstol", "maxiters", "dt")},
        "sensealg": [("DiffEqBase", "src/solve.jl", r"function solve\(\s*$", r"sensealg = nothing")],
        "trajectories": [("SciMLBase", "src/ensemble/basic_ensemble_solve.jl",
                          r"^function __solve\(\s*$", r"^\s*trajectories, batch_size = trajectories")],
    },
    "EnsembleProblem": {"prob_func": [(*_ENS, r"^\s*prob_func = ")], "safetycopy": [(*_ENS, r"^\s*safetycopy = ")]},
    "ODEFunction": {kw: [("SciMLBase", "src/scimlfunctions.jl", r"^function ODEFunction\{iip, specialize\}\(",
                          rf"^\s*{kw} = ")] for kw in ("jac", "tgrad")},
    "remake": {kw: [("SciMLBase", "src/remake.jl", r"^function remake\(\s*$", rf"^\s*{kw} = missing")]
               for kw in ("u0", "p")},
    "InterpolatingAdjoint": {"checkpointing": [("SciMLSensitivity", "src/sensitivity_algorithms.jl",
                                                r"function InterpolatingAdjoint\(;", r"checkpointing = false")]},
    "ODEProblem": {"(f, u0, tspan, p)": [("SciMLBase", "src/problems/ode_problems.jl",
                                          r"^function ODEProblem\(f::AbstractODEFunction, u0, tspan, args\.\.\.",
                                          r"u0, tspan")]},
    "SplitODEProblem": {"(f::SplitFunction, u0, tspan, p)": [
        ("SciMLBase", "src/problems/ode_problems.jl", r"^function SplitODEProblem\(f::SplitFunction, u0, tspan, p",
         r"u0, tspan")]},
    "SplitFunction": {"(f1, f2)": [("SciMLBase", "src/scimlfunctions.jl",
                                    r"^function SplitFunction\{iip\}\(f1, f2; kwargs\.\.\.\)", r"f1, f2")]},
    "expv": {"m": [_EXPV + (r"kwargs\.\.\.",), _EXPV_HB + (r"kwargs_arnoldi\.\.\.",), _ARNOLDI + (r"\bm = ",)],
             "tol": [_EXPV + (r"kwargs\.\.\.",), _EXPV_HB + (r"kwargs_arnoldi\.\.\.",),
                     _ARNOLDI + (r"kwargs\.\.\.",), _ARNOLDI_BANG + (r"\btol(::Real)? = ",)]},
    # not keywords: how SciMLBase calls our prob_func, and why an empty parameter vector is not passed to
    # SciMLSensitivity (ForwardDiffSensitivity's chunk size is length(p) when below 12: 0 ÷ 0)
    "prob_func": {
        "(prob, ctx)": [("SciMLBase", "src/ensemble/basic_ensemble_solve.jl", r"prob\.prob_func\(_prob, ctx\)",
                         r"prob\.prob_func\(_prob, ctx\)")],
        "ctx.sim_id": [("SciMLBase", "src/ensemble/basic_ensemble_solve.jl", r"^struct EnsembleContext",
                        r"^\s*sim_id::Int")]},
    "ForwardDiffSensitivity(empty p)": {
        "chunk_size = length(tunables)": [("SciMLSensitivity", "src/concrete_solve.jl",
                                           r"CS === 0 && length\(tunables\) < 12", r"length\(tunables\)$")],
        "num_chunks = length(tunables) ÷ chunk_size": [
            ("SciMLSensitivity", "src/concrete_solve.jl", r"num_chunks = length\(tunables\) ÷ chunk_size",
             r"num_chunks = length\(tunables\) ÷ chunk_size")]},
    "phiv": {"m": [_PHIV + (r"kwargs_arnoldi\.\.\.",), _ARNOLDI + (r"\bm = ",)],
             "tol": [_PHIV + (r"kwargs_arnoldi\.\.\.",), _ARNOLDI + (r"kwargs\.\.\.",),
                     _ARNOLDI_BANG + (r"\btol(::Real)? = ",)]},
}


class Source:
    """Files of one registered package version, read from its git tree."""

    def __init__(self, mirror: Path, package: str, tree: str) -> None:
        repo, _ = REPOS[package]
        self.git = mirror / repo.replace("/", "+") / "repo"
        self.tree = tree
        self._cache: dict[str, list[str] | None] = {}

    def exists(self) -> bool:
        out = subprocess.run(["git", "-C", str(self.git), "cat-file", "-t", self.tree], capture_output=True,
                             text=True)
        return out.stdout.strip() == "tree"

    def files(self) -> list[str]:
        out = subprocess.run(["git", "-C", str(self.git), "ls-tree", "-r", "--name-only", self.tree, "src"],
                             capture_output=True, text=True, check=True)
        return [f for f in out.stdout.split() if f.endswith(".jl")]

    def lines(self, path: str) -> list[str] | None:
        if path not in self._cache:
            out = subprocess.run(["git", "-C", str(self.git), "show", f"{self.tree}:{path}"], capture_output=True,
                                 text=True)
            self._cache[path] = out.stdout.splitlines() if out.returncode == 0 else None
        return self._cache[path]


def find_export(src: Source, name: str) -> tuple[str, int] | None:
    """File and line of ``name`` inside an ``export`` statement (continued over lines ending in ``,``)."""
    for path in src.files():
        lines = src.lines(path) or []
        in_export = False
        for i, line in enumerate(lines):
            code = line.split("#", 1)[0]
            if re.match(r"^\s*export\b", code):
                in_export = True
            if in_export and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w!])", code.replace("export", " ")):
                return path, i + 1
            stripped = code.strip()
            if in_export and stripped not in ("", "export") and not stripped.endswith(","):
                in_export = False
    return None


def find_in_signature(src: Source, path: str, start: str, pattern: str) -> int | None:
    """Line of ``pattern`` inside the signature that begins at the first line matching ``start`` (up to its
    closing bracket; when the start line is balanced, e.g. ``struct X``, within the next 15 lines)."""
    lines = src.lines(path)
    if lines is None:
        return None
    for i, line in enumerate(lines):
        if re.search(start, line):
            window = 15 if lines[i].count("(") == lines[i].count(")") else 60
            depth = 0
            for j in range(i, min(i + window, len(lines))):
                if re.search(pattern, lines[j]):
                    return j + 1
                depth += lines[j].count("(") - lines[j].count(")")
                if window == 60 and depth <= 0:  # the signature's brackets closed
                    break
    return None


def admitted_versions(registry: Path) -> dict[str, list[tuple[str, str]]]:
    """package -> [(version, git-tree-sha1)] admitted by julia/Project.toml, oldest first."""
    sys.path.insert(0, str(registry))
    import check_pairs  # noqa: PLC0415 - the registry excerpt's own checker

    project = ROOT / "julia" / "Project.toml"
    proj = check_pairs._load_toml(str(project))
    reg = check_pairs.Registry(str(registry))
    by_name = {name: uuid for uuid, (name, _) in reg.by_uuid.items()}
    jspec = check_pairs.project_spec(proj["compat"]["julia"])
    allowed: dict[str, list] = {}

    def keep(pkg, v, spec) -> bool:
        jc = pkg.info(v)["Compat"].get("julia")
        return contains(spec, v) and v not in pkg.yanked and (jc is None or check_pairs.intersects(jc[0], jspec))

    contains = check_pairs.contains
    for name in REPOS:
        pkg = reg.get(by_name[name])
        if name in proj["deps"]:
            spec = check_pairs.project_spec(proj["compat"][name])
            allowed[name] = [v for v in pkg.versions if keep(pkg, v, spec)]
    for name in ("OrdinaryDiffEqCore", "DiffEqBase"):  # DiffEqBase's parent must come first
        pkg = reg.get(by_name[name])
        specs = [reg.get(by_name[p]).info(v)["Compat"][name][0] for p in INDIRECT[name] for v in allowed[p]
                 if name in reg.get(by_name[p]).info(v)["Compat"]]
        allowed[name] = [v for v in pkg.versions if any(keep(pkg, v, s) for s in specs)]
    out = {}
    for name, versions in allowed.items():
        pkg = reg.get(by_name[name])
        tomlv = check_pairs._load_toml(str(registry / pkg.path / "Versions.toml"))
        trees = {check_pairs.parse_version(k): e["git-tree-sha1"] for k, e in tomlv.items()}
        out[name] = [(check_pairs.vstr(v), trees[v]) for v in versions]
    return out


def build(registry: Path, mirror: Path) -> tuple[dict, list[str]]:
    versions = admitted_versions(registry)
    errors: list[str] = []
    readable: dict[str, list[tuple[str, Source]]] = {}
    packages = {}
    for name, vs in versions.items():
        srcs = [(v, Source(mirror, name, t)) for v, t in vs]
        ok = [(v, s) for v, s in srcs if s.exists()]
        readable[name] = ok
        if not ok:
            errors.append(f"{name}: no admitted version's sources in the mirror")
            continue
        repo, sub = REPOS[name]
        packages[name] = {"repository": repo, "subdir": sub, "admitted": [v for v, _ in vs],
                          "read": [v for v, _ in ok], "not_read": [v for v, s in srcs if (v, s) not in ok],
                          "table_version": ok[-1][0], "git_tree_sha1": ok[-1][1].tree}
    exports = {}
    for name, pkg in EXPORTS.items():
        hits = {v: find_export(s, name) for v, s in readable.get(pkg, [])}
        missing = [v for v, h in hits.items() if h is None]
        if missing or not hits:
            errors.append(f"{name}: not exported by {pkg} {missing or '(no sources)'}")
            continue
        path, line = hits[readable[pkg][-1][0]]
        exports[name] = {"package": pkg, "file": path, "line": line}
    for name, (pkg, path, start) in DEFINED.items():
        hits = {v: find_in_signature(s, path, start, start) for v, s in readable[pkg]}
        missing = [v for v, h in hits.items() if h is None]
        if missing:
            errors.append(f"{pkg}.{name}: no definition in {missing}")
            continue
        exports[f"{pkg}.{name}"] = {"package": pkg, "file": path, "line": hits[readable[pkg][-1][0]]}
    keywords: dict[str, dict[str, list[dict]]] = {}
    for call, kws in KEYWORDS.items():
        for kw, hops in kws.items():
            entry = []
            for pkg, path, start, pattern in hops:
                hits = {v: find_in_signature(s, path, start, pattern) for v, s in readable[pkg]}
                missing = [v for v, h in hits.items() if h is None]
                if missing:
                    errors.append(f"{call}({kw}): {pkg} {path} /{start}/ lacks /{pattern}/ at {missing}")
                entry.append({"package": pkg, "file": path, "line": hits.get(readable[pkg][-1][0])})
            keywords.setdefault(call, {})[kw] = entry
    compat = {k: v for k, v in _compat().items() if k in REPOS or k == "PythonCall"}
    return {"built_from": {"registry": "JuliaRegistries/General excerpt (../shared/julia-registry)",
                           "compat": compat},
            "packages": packages, "exports": exports, "keywords": keywords,
            "not_called": ["adjoint_sensitivities"]}, errors


def _compat() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from pysciml.backends._julia_worker import read_project_toml  # noqa: PLC0415

    return read_project_toml(ROOT / "julia" / "Project.toml")["compat"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    table, errors = build(Path(argv[0]).resolve(), Path(argv[1]).resolve())
    for err in errors:
        print("MISSING", err)
    OUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(table['exports'])} names, "
          f"{sum(len(v) for v in table['keywords'].values())} keywords)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
