"""The layout of `checks/` (installed as `alexnet_audit`) and its layering rule, checked.

docs/ARCHITECTURE.md ("Layers") states the rule; the import-linter contracts in pyproject.toml
enforce it in `make lint`. These tests hold the rest: that the contracts really fail on an upward
import, that the folder holds only stage packages, that modules and functions stay small, that no
`_private` name crosses a package, that the light stages import no torch when they load, and that
the public names of the front ends' modules say what they are.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "checks"
TOP = "alexnet_audit"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LINTER = PYPROJECT["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in LINTER["contracts"]}
LAYERS = [[name.strip() for name in layer.split("|")] for layer in CONTRACTS["layers"]["layers"]]
STAGES = {name for layer in LAYERS for name in layer}

MAX_TOP_MODULES = 4  # besides __init__ and __main__
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
PURE = ("core", "spec", "judge", "gate", "report")
FRONT_ENDS = ("cli", "plugin")
LIGHT = (*PURE, *FRONT_ENDS, "isolate")  # no torch when they load (isolate: the parent side of every audit)
HEAVY = ("torch", "torchvision")
DOCUMENTED = [*sorted((PKG / "plugin").rglob("*.py")), PKG / "isolate" / "client.py"]


def modules(under: Path = PKG) -> Iterator[Path]:
    yield from sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def dotted(path: Path) -> list[str]:
    """`checks/a/b.py` -> ['a', 'b']; a package's `__init__.py` -> the package's parts."""
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def resolve_from(path: Path, node: ast.ImportFrom) -> list[str] | None:
    """The parts (below the top package) of the module a relative `from` import names; None for an
    absolute import."""
    if not node.level:
        return None
    package = dotted(path) if path.name == "__init__.py" else dotted(path)[:-1]
    base = package[:len(package) - (node.level - 1)]
    return base + (node.module.split(".") if node.module else [])


def import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported: not function bodies, not `if TYPE_CHECKING:`."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            test = stmt.test
            checking = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
                (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
            if not checking:
                yield from import_time_statements(stmt.body)
            yield from import_time_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):
                yield from import_time_statements(block)
        elif isinstance(stmt, ast.With | ast.ClassDef):
            yield from import_time_statements(stmt.body)


def imported_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names]
    if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
        return [stmt.module]
    return []


# ------------------------------------------------------------------------------ the folder ---


def test_the_package_holds_only_stage_packages() -> None:
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__" and not p.name.startswith(".")}
    assert folders == STAGES, (
        f"checks/ must hold exactly the stage packages of the layers contract in pyproject.toml: "
        f"not placed {sorted(folders - STAGES)}, missing {sorted(STAGES - folders)}")
    assert all((PKG / name / "__init__.py").is_file() for name in folders)
    top = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= MAX_TOP_MODULES, f"at most {MAX_TOP_MODULES} top-level modules in checks/, found {top}"


def test_every_package_is_installed() -> None:
    found = {".".join([TOP, *dotted(p)]) for p in modules() if p.name == "__init__.py"}
    listed = {name for name in PYPROJECT["tool"]["setuptools"]["packages"] if name.split(".")[0] == TOP}
    assert found == listed, (f"[tool.setuptools] packages in pyproject.toml: add {sorted(found - listed)}, "
                             f"remove {sorted(listed - found)}")


def test_the_architecture_doc_states_the_contract_order() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = doc.split("```text\n", 1)[1].split("```", 1)[0]  # the first text block: the layers, top first
    stated = [line.split("  ")[0].strip() for line in block.splitlines() if line.strip()]
    assert stated == [" | ".join(layer) for layer in LAYERS]


# ------------------------------------------------------------------------------- the sizes ---


def test_no_module_is_over_400_lines() -> None:
    long = [f"{rel(p)}: {n} lines" for p in modules() if (n := len(p.read_text(encoding="utf-8").splitlines()))
            > MAX_MODULE_LINES]
    assert not long, f"split these into a package of focused modules (CONTRIBUTING.md): {long}"


def test_no_function_is_over_80_lines() -> None:
    long = []
    for path in modules():
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel(path)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# ------------------------------------------------------------------------------ the imports ---


def test_no_private_name_crosses_a_package() -> None:
    crossing = []
    for path in modules():
        stage = dotted(path)[:1]
        for node in ast.walk(parsed(path)):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = resolve_from(path, node)
            if target is None or target[:1] == stage:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    crossing.append(f"{rel(path)}:{node.lineno} imports {alias.name} from {'.'.join(target)}")
    assert not crossing, f"make the name public where it is defined, or move the code that needs it: {crossing}"


@pytest.mark.parametrize("stage", LIGHT)
def test_light_stages_import_no_torch_at_module_level(stage: str) -> None:
    found = []
    for path in modules(PKG / stage):
        for stmt in import_time_statements(parsed(path).body):
            found += [f"{rel(path)}:{stmt.lineno} imports {name}" for name in imported_names(stmt)
                      if name.split(".")[0] in HEAVY]
    assert not found, f"import torch inside the function that needs it: {found}"


def test_light_stages_load_without_torch() -> None:
    """Import every module of the light stages in a fresh interpreter: torch stays out (indirect
    imports included); the first module that brings it in is named."""
    names = [".".join([TOP, *dotted(p)]) for stage in LIGHT for p in modules(PKG / stage) if p.stem != "__main__"]
    names.append(f"{TOP}.probes")  # the registry alone: the parent checks the spec's probe names with it
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            f"    if any(h in sys.modules for h in {HEAVY!r}):\n"
            "        print(name)\n"
            "        break\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"importing {done.stdout.strip()} loads torch"


# ---------------------------------------------------------------------------- the docstrings ---


@pytest.mark.parametrize("path", DOCUMENTED, ids=rel)
def test_public_names_of_the_front_ends_have_docstrings(path: Path) -> None:
    missing = [f"{rel(path)}:{node.lineno} {node.name}" for node in parsed(path).body
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
               and not node.name.startswith("_") and ast.get_docstring(node) is None]
    assert not missing, f"public names without a docstring: {missing}"


# ------------------------------------------------------------------------- the layering rule ---

# (file to change, line appended, the contract it breaks, the import the report must name)
BREAKS = {
    "upward": ("core/numbers.py", "from ..cli import main  # noqa", "layers",
               "alexnet_audit.core.numbers -> alexnet_audit.cli.main"),
    "pure-reaches-probes": ("gate/evaluate.py", "from ..probes import layers  # noqa", "pure",
                            "alexnet_audit.gate.evaluate -> alexnet_audit.probes.layers"),
    "torch-in-judge": ("judge/verdict.py", "import torch  # noqa", "no-torch", "alexnet_audit.judge.verdict -> torch"),
}


def lint_imports(tmp_path: Path, change: tuple[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with our contracts, on a copy of the package (optionally with one line added)."""
    copy = tmp_path / TOP
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.yaml"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if change is not None:
        module, line = change
        with (copy / module).open("a", encoding="utf-8") as fh:
            fh.write(f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}  # the copy, not the installed package
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, "--no-cache", "--no-logo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


needs_linter = pytest.mark.skipif(importlib.util.find_spec("importlinter") is None,
                                  reason="import-linter is not installed (the lint extra: pip install -e '.[lint]')")


@needs_linter
def test_the_contracts_hold_on_the_package(tmp_path: Path) -> None:
    done = lint_imports(tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in out, out


@needs_linter
@pytest.mark.parametrize("case", sorted(BREAKS))
def test_the_contracts_fail_on_a_forbidden_import(tmp_path: Path, case: str) -> None:
    module, line, contract, chain = BREAKS[case]
    done = lint_imports(tmp_path, (module, line))
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert f"{CONTRACTS[contract]['name']} BROKEN" in out, out
    assert chain in out, out
