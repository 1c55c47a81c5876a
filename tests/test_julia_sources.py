"""Static checks of the bundled Julia project (no Julia runtime needed): syntax, Project.toml, name tables.

tree-sitter-julia checks syntax only (it misses a stray extra ``end`` and checks no names), so the
cross-checks below compare the name tables of the Python bridge with the Julia sources as text.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pysciml.backends._julia_worker import read_project_toml
from pysciml.backends.julia import JULIA_METHODS, JULIA_SYSTEMS, SENSEALGS, shipped_project_dir

tree_sitter = pytest.importorskip("tree_sitter")
tsj = pytest.importorskip("tree_sitter_julia")

ROOT = Path(__file__).resolve().parent.parent
JULIA_DIR = ROOT / "julia"
JL_FILES = sorted(JULIA_DIR.rglob("*.jl"))
SRC = {p.name: p.read_text(encoding="utf-8") for p in JL_FILES}

# UUIDs from the upstream Project.toml files (shared/reference/julia-backend.md, General registry).
EXPECTED_UUIDS = {
    "OrdinaryDiffEq": "1dea7af3-3e70-54e6-95c3-0bf5283fa5ed",
    "OrdinaryDiffEqRosenbrock": "43230ef6-c299-4910-a778-202eb28ce4ce",
    "OrdinaryDiffEqFIRK": "5960d6e9-dd7a-4743-88e7-cf307b64f125",
    "OrdinaryDiffEqSDIRK": "2d112036-d095-4a1e-ab9a-08536f3ecdbf",
    "OrdinaryDiffEqBDF": "6ad6398a-0878-4a85-9266-38940aa047c8",
    "OrdinaryDiffEqExponentialRK": "e0540318-69ee-4070-8777-9e2de6de23de",
    "SciMLSensitivity": "1ed8b502-d754-442c-8d5d-10ac956f44a1",
    "ExponentialUtilities": "d4d017d3-3776-5f7e-afef-a10c40355c18",
    "Zygote": "e88e6eb3-aa80-5325-afca-941959d7151f",
    "PythonCall": "6099a3de-0909-46bc-b1f4-468b9a2dfc0d",
}


def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tsj.language()))


def _problems(node: tree_sitter.Node) -> list[str]:
    found = []
    if node.is_error or node.is_missing:
        kind = "MISSING" if node.is_missing else "ERROR"
        found.append(f"{kind} {node.type} at line {node.start_point[0] + 1}")
    for child in node.children:
        found.extend(_problems(child))
    return found


def test_julia_sources_exist() -> None:
    assert (JULIA_DIR / "Project.toml").is_file()
    assert {"PySciMLBackend.jl", "systems.jl", "ensemble.jl", "sensitivity.jl"} <= set(SRC)


@pytest.mark.parametrize("path", JL_FILES, ids=lambda p: p.name)
def test_julia_file_parses_without_errors(path: Path) -> None:
    tree = _parser().parse(path.read_bytes())
    problems = _problems(tree.root_node)
    assert not tree.root_node.has_error and not problems, f"{path.name}: {problems}"


def test_parser_check_detects_broken_code() -> None:
    """The syntax check can fail: a function with an unbalanced bracket is flagged."""
    tree = _parser().parse(b"function f(x)\n    return (x + 1\nend\n")
    assert tree.root_node.has_error or _problems(tree.root_node)


def test_every_include_exists_and_every_file_is_included() -> None:
    includes = set(re.findall(r'include\("([^"]+)"\)', SRC["PySciMLBackend.jl"]))
    assert includes == set(SRC) - {"PySciMLBackend.jl"}


def test_project_toml_has_compat_for_every_dep() -> None:
    project = read_project_toml(JULIA_DIR / "Project.toml")
    assert project[""]["name"] == "PySciMLBackend"
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", project[""]["uuid"])
    deps, compat = project["deps"], project["compat"]
    assert set(deps) <= set(compat), f"deps without [compat]: {sorted(set(deps) - set(compat))}"
    assert compat["julia"] == "1.10"
    for name, uuid in EXPECTED_UUIDS.items():
        assert deps.get(name) == uuid, name


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip().lstrip("=").split("."))


def test_pythoncall_compat_admits_the_juliacall_version_and_the_copy_pins_it() -> None:
    """The bundled range admits the installed juliacall's PythonCall; the instantiated copy pins it exactly."""
    from pysciml.backends.julia import juliacall_pythoncall_pin, runtime_project_toml

    juliacall = importlib.util.find_spec("juliacall")
    if juliacall is None or juliacall.origin is None:
        pytest.skip("juliacall is not installed")
    spec = json.loads((Path(juliacall.origin).parent / "juliapkg.json").read_text())
    required = spec["packages"]["PythonCall"]["version"]
    assert required.startswith("=") and juliacall_pythoncall_pin() == required
    low, high = read_project_toml(JULIA_DIR / "Project.toml")["compat"]["PythonCall"].split(" - ")
    assert _version(low) <= _version(required) <= _version(high)
    copy = runtime_project_toml(JULIA_DIR, required)
    assert f'PythonCall = "{required}"' in copy.split("[compat]")[1]
    assert copy.split("[compat]")[0] == (JULIA_DIR / "Project.toml").read_text().split("[compat]")[0]


# ------------------------------------------------- [compat] against the General registry excerpt
REGISTRY = ROOT.parent / "shared" / "julia-registry"
STDLIBS = {"LinearAlgebra"}


def test_compat_is_pairwise_satisfiable_in_the_registry_excerpt() -> None:
    """``check_pairs.py`` (stdlib-only checker shipped with the excerpt) accepts julia/Project.toml, and
    every non-stdlib dependency was actually found in the excerpt (an unknown package is not checked)."""
    checker = REGISTRY / "check_pairs.py"
    if not checker.is_file():
        pytest.skip(f"{REGISTRY} (General-registry excerpt with check_pairs.py) is not present on this machine")
    cmd = [sys.executable, str(checker), str(JULIA_DIR / "Project.toml")]
    human = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert human.returncode == 0, human.stdout[-3000:] + human.stderr[-2000:]
    report = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120).stdout)
    assert report["ok"] and not report["problems"]
    unchecked = sorted(n for n, d in report["deps"].items() if d.get("status") != "ok" and n not in STDLIBS)
    assert not unchecked, f"not in the registry excerpt, so not checked: {unchecked}"
    assert all(d["n_allowed"] > 0 for n, d in report["deps"].items() if n not in STDLIBS)


# ------------------------------------------- names and keywords against the packages' sources
TABLE = json.loads((ROOT / "tests" / "julia_api" / "table.json").read_text(encoding="utf-8"))
_BASE_CALLS = {"Matrix", "Vector", "Float64", "Int", "ComplexF64", "Dict", "Symbol", "Array", "ArgumentError",
               "ErrorException"}


def test_api_table_was_built_for_the_current_compat() -> None:
    """Changing [compat] requires rebuilding the table (tests/julia_api/build_table.py) at the new versions."""
    compat = read_project_toml(JULIA_DIR / "Project.toml")["compat"]
    built = TABLE["built_from"]["compat"]
    assert built == {k: compat[k] for k in built}
    for name, pkg in TABLE["packages"].items():
        assert pkg["read"] == pkg["admitted"] and not pkg["not_read"], name  # every admitted version read
        assert pkg["table_version"] == pkg["admitted"][-1]


def _defined_in_our_sources() -> set[str]:
    names = set()
    for text in SRC.values():
        names |= set(re.findall(r"^(?:function |struct )?([A-Za-z_][A-Za-z0-9_!]*)(?:\{[^}]*\})?\(", text, re.M))
        names |= set(re.findall(r"^struct ([A-Za-z_][A-Za-z0-9_]*)", text, re.M))
        names |= set(re.findall(r"^\s*(?:const )?([A-Za-z_][A-Za-z0-9_!]*) = ", text, re.M))
    return names


def test_every_external_name_the_julia_code_calls_is_exported_at_the_admitted_versions() -> None:
    exports = TABLE["exports"]
    deps = set(read_project_toml(JULIA_DIR / "Project.toml")["deps"])
    for name in JULIA_METHODS:  # every algorithm name the Python side can send
        assert name in exports and exports[name]["package"] in deps, name
    for constructor in re.findall(r'=> \(\) -> ([A-Za-z]+)\(', SRC["sensitivity.jl"]):
        assert constructor in exports, constructor
    ours = _defined_in_our_sources()
    called = set()
    for text in SRC.values():
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        code = re.sub(r'"""[\s\S]*?"""|"(?:\\.|[^"\\])*"', '""', code)
        called |= set(re.findall(r"(?<![\w.:])([A-Z][A-Za-z0-9_]*|solve|remake|expv|phiv)\(", code))
    external = called - ours - _BASE_CALLS
    assert external, "the call scan found nothing: it is broken"
    assert external <= set(exports), sorted(external - set(exports))
    assert "SciMLBase.successful_retcode" in exports and "SciMLBase.successful_retcode" in SRC["algorithms.jl"]


def _calls(code: str, name: str) -> list[str]:
    """Argument texts of every call ``name(...)`` in ``code`` (balanced brackets)."""
    out = []
    for match in re.finditer(rf"(?<![\w.]){re.escape(name)}\(", code):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            i += 1
        out.append(code[match.end():i - 1])
    return out


def _top_level_args(args: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in args:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if ch in ",;" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*parts, cur.strip()]


def _keywords(code: str, name: str) -> set[str]:
    """Keywords passed to ``name``: ``kw=value`` arguments plus the fields of splatted NamedTuples."""
    found = set()
    for args in _calls(code, name):
        for arg in _top_level_args(args):
            kw = re.match(r"^([A-Za-z_]\w*)\s*=(?!=)", arg)
            if kw:
                found.add(kw.group(1))
            splat = re.match(r"^([A-Za-z_]\w*)\.\.\.$", arg)
            if splat:
                var = splat.group(1)
                tuples = re.findall(rf"\b{var} = \(([^()]*(?:\([^()]*\)[^()]*)*)\)", code)
                tuples += re.findall(rf"merge\({var}, \(([^()]*(?:\([^()]*\)[^()]*)*)\)\)", code)
                assert tuples, f"cannot resolve {var}... passed to {name}"
                for body in tuples:
                    found |= {m for m in re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)\s*=", body)}
    return found


@pytest.mark.parametrize("call", ["solve", "EnsembleProblem", "ODEFunction", "remake", "InterpolatingAdjoint",
                                  "expv", "phiv", "ODEProblem", "SplitODEProblem", "adjoint_sensitivities"])
def test_every_keyword_passed_is_accepted_by_the_admitted_versions(call: str) -> None:
    code = "\n".join(SRC.values())
    used = _keywords(code, call)
    if call == "adjoint_sensitivities":
        assert not _calls(code, call) and call in TABLE["not_called"]
        return
    if call in ("ODEProblem", "SplitODEProblem"):  # positional only: (f, u0, tspan, p)
        assert _calls(code, call) and not used and TABLE["keywords"][call]
        return
    assert used, f"no keyword found for {call}: the scan is broken"
    accepted = TABLE["keywords"][call]
    assert used <= set(accepted), sorted(used - set(accepted))
    assert all(hop["line"] for kw in used for hop in accepted[kw])


def test_keyword_scan_detects_an_unknown_keyword() -> None:
    """The scan can fail: a keyword no admitted version accepts is caught."""
    code = "opts = (saveat=ts, reltol=1.0)\nsol = solve(prob, alg; sensealg=sa, opts..., callback=cb)\n"
    assert _keywords(code, "solve") == {"saveat", "reltol", "sensealg", "callback"}
    assert not _keywords(code, "solve") <= set(TABLE["keywords"]["solve"])


def test_ensemble_prob_func_takes_the_scimlbase3_context() -> None:
    """SciMLBase calls ``prob_func(prob, ctx)`` (table: the call site) and the index is ``ctx.sim_id``."""
    assert TABLE["keywords"]["prob_func"]["(prob, ctx)"][0]["line"]
    assert re.search(r"^\(s::InitialStates\)\(prob, ctx\) = .*ctx\.sim_id", SRC["ensemble.jl"], re.M)
    assert re.search(r"prob_func=InitialStates\(", SRC["ensemble.jl"])


def test_empty_parameter_vectors_never_reach_sciml_sensitivity() -> None:
    """ForwardDiffSensitivity divides by ``length(p)`` (table: the source lines), so ``loss_sensitivity``
    differentiates with a placeholder parameter when the system has none, and returns no gradient for it."""
    assert TABLE["keywords"]["ForwardDiffSensitivity(empty p)"]
    text = SRC["sensitivity.jl"]
    assert re.search(r"p_ad = isempty\(p0\) \? \[0\.0\] : p0", text)
    assert "build_problem(system, p_ad," in text and "Zygote.gradient(objective, x0, p_ad)" in text
    assert "isempty(p0)) ? zeros(length(p0))" in text


def test_every_julia_module_used_is_a_dependency() -> None:
    project = read_project_toml(JULIA_DIR / "Project.toml")
    used = set()
    for text in SRC.values():
        for match in re.finditer(r"^\s*(?:using|import)\s+([A-Za-z0-9_]+)", text, flags=re.M):
            used.add(match.group(1))
    assert used <= set(project["deps"]), sorted(used - set(project["deps"]))


def test_method_tables_agree() -> None:
    julia_methods = set(re.findall(r'^\s*"([A-Za-z0-9]+)" => MethodSpec', SRC["algorithms.jl"], flags=re.M))
    assert julia_methods == set(JULIA_METHODS)
    for name, spec in JULIA_METHODS.items():
        line = re.search(rf'"{name}" => MethodSpec\(\(\) -> {name}\(\), (true|false), (true|false)\)',
                         SRC["algorithms.jl"])
        assert line, name
        assert (line.group(1) == "true", line.group(2) == "true") == (spec.split, spec.fixed_step), name


def test_system_and_sensealg_tables_agree() -> None:
    systems = re.search(r"const SYSTEMS = \(([^)]*)\)", SRC["systems.jl"]).group(1)
    assert set(re.findall(r'"([a-z_]+)"', systems)) == set(JULIA_SYSTEMS)
    sensealgs = set(re.findall(r'^\s*"([A-Za-z]+)" => \(\) ->', SRC["sensitivity.jl"], flags=re.M))
    assert sensealgs == set(SENSEALGS)


def test_exported_functions_are_defined() -> None:
    export = re.search(r"^export (.+)$", SRC["PySciMLBackend.jl"], flags=re.M).group(1)
    defined = set()
    for text in SRC.values():
        defined |= set(re.findall(r"^function ([A-Za-z_!]+)\(", text, flags=re.M))
        defined |= set(re.findall(r"^([A-Za-z_!]+)\(\) =", text, flags=re.M))
    for name in (n.strip() for n in export.split(",")):
        assert name in defined, name


def test_project_shipped_inside_the_package() -> None:
    """``pysciml/julia`` (a symlink to ``julia/``, copied into wheels) is what the bridge finds."""
    found = shipped_project_dir()
    assert (found / "Project.toml").is_file() and (found / "src" / "PySciMLBackend.jl").is_file()
    assert (ROOT / "pysciml" / "julia" / "Project.toml").resolve() == (JULIA_DIR / "Project.toml").resolve()


def test_no_juliapkg_json_where_juliapkg_would_discover_it() -> None:
    """juliapkg scans every sys.path entry and its immediate subdirectories for juliapkg.json."""
    for folder in (ROOT, ROOT / "pysciml", *[p for p in (ROOT / "pysciml").iterdir() if p.is_dir()]):
        assert not (folder / "juliapkg.json").exists(), folder


def test_package_data_patterns_cover_every_julia_file() -> None:
    """setuptools copies ``pysciml/julia`` (symlinked files included) by these package-data patterns."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["pysciml"]
    package = ROOT / "pysciml"
    covered = {p for pattern in patterns for p in package.glob(pattern)}
    shipped = {package / "julia" / p.relative_to(JULIA_DIR) for p in JULIA_DIR.rglob("*") if p.is_file()}
    assert shipped and shipped <= covered, sorted(map(str, shipped - covered))
