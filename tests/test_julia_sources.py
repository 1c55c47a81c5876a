"""Static checks of the bundled Julia project (no Julia runtime needed): syntax, Project.toml, name tables.

tree-sitter-julia checks syntax only (it misses a stray extra ``end`` and checks no names), so the
cross-checks below compare the name tables of the Python bridge with the Julia sources as text.
"""

from __future__ import annotations

import importlib.util
import json
import re
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


def test_pythoncall_pinned_to_the_juliacall_version() -> None:
    juliacall = importlib.util.find_spec("juliacall")
    if juliacall is None or juliacall.origin is None:
        pytest.skip("juliacall is not installed")
    spec = json.loads((Path(juliacall.origin).parent / "juliapkg.json").read_text())
    required = spec["packages"]["PythonCall"]["version"]
    assert read_project_toml(JULIA_DIR / "Project.toml")["compat"]["PythonCall"] == required


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
