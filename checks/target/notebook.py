"""A notebook as a module: its cells run up to the model's definition, without training, downloading or plotting.

`plan` decides which code cells run: every cell up to and including the last one that defines a
candidate network (or an initialisation function applied to one); of those, a cell that trains,
loads data, downloads or plots (`definitions.markers`) is skipped, unless it also defines
something, when only its definitions run. Magics and shell escapes were already turned into
`pass` (`sources.clean_cell`). `load_notebook` runs the plan into a module registered in
sys.modules (so `nb.ipynb:AlexNet` is importable like `file.py:attr`) and returns it with the
notes that say what ran and what did not.
"""
from __future__ import annotations

import ast
import linecache
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from .definitions import Failure, markers, run_statements, select
from .evidence import init_uses
from .scan import find_candidates
from .sources import Cell, Unit, read_notebook, rel_path, removed_note


@dataclass
class Step:
    cell: int
    statements: list[ast.stmt]
    only_definitions: bool
    code: str


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (cell, why)
    later: list[int] = field(default_factory=list)  # cells after the last definition: not run
    removed: list[str] = field(default_factory=list)  # magics and shell escapes in the cells that ran
    failures: list[Failure] = field(default_factory=list)


def _units(path: Path, cells: list[Cell]) -> list[Unit]:
    out = []
    for cell in cells:
        if cell.skipped:
            continue
        try:
            tree = ast.parse(cell.code, filename=f"{path}#cell{cell.number}")
        except (SyntaxError, ValueError) as exc:
            cell.skipped = f"SyntaxError line {getattr(exc, 'lineno', '?')}"
            continue
        out.append(Unit(path, path.name, tree, cell.code, cell=cell.number))
    return out


def _defined(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)}


def plan(path: Path, cells: list[Cell]) -> Plan:
    """Which cells run, which are skipped and why (see the module docstring)."""
    units = _units(path, cells)
    candidates = find_candidates(units)
    models = {c.name for c in candidates}
    wanted = models | {u.function for u in init_uses(units, models) if u.function}
    defining = [u.cell for u in units if _defined(u.tree) & wanted]
    last = max((c for c in defining if c is not None), default=0)
    out = Plan()
    by_cell = {u.cell: u for u in units}
    for cell in cells:
        if cell.number > last:
            if cell.code.strip() or cell.skipped:
                out.later.append(cell.number)
            continue
        if cell.skipped:
            out.skipped.append((cell.number, cell.skipped))
            out.removed += [r for r in cell.removed if "(the whole cell)" not in r]
            continue
        unit = by_cell.get(cell.number)
        if unit is None or not unit.tree.body:
            continue
        work = markers(unit.tree.body)
        if work and not _defined(unit.tree):
            first = next(iter(work))
            out.skipped.append((cell.number, f"{first}: {work[first]}"))
            continue
        out.removed += cell.removed
        if work:
            chosen = select(unit.tree.body, models).kept
            out.steps.append(Step(cell.number, chosen, True, cell.code))
        else:
            out.steps.append(Step(cell.number, list(unit.tree.body), False, cell.code))
    return out


def module_name(path: Path) -> str:
    from .imports import file_module_name

    return file_module_name(path)


def load_notebook(path: Path) -> tuple[types.ModuleType, Plan]:
    """Run the plan of the notebook at `path` into a fresh module (registered in sys.modules).

    An import that fails propagates (the caller may stub the module and try again); any other
    failing statement is skipped into `plan.failures`."""
    path = path.resolve()
    steps = plan(path, read_notebook(path))
    name = module_name(path)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules[name] = module
    try:
        for step in steps.steps:
            filename = f"{path}#cell{step.cell}"
            linecache.cache[filename] = (len(step.code), None, step.code.splitlines(True), filename)
            run_statements(step.statements, module.__dict__, filename,
                           lambda line, c=step.cell: f"{path.name} cell {c} line {line}", steps.failures)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module, steps


def plan_notes(path: Path, root: Path, steps: Plan) -> list[str]:
    """What ran of the notebook, and what did not, in the report's words."""
    rel = rel_path(path, root)
    ran = [s.cell for s in steps.steps]
    out = []
    if ran:
        partial = [s.cell for s in steps.steps if s.only_definitions]
        text = f"{rel}: ran code cells {', '.join(map(str, ran))} (up to the model's definition)"
        if partial:
            text += f"; of cell(s) {', '.join(map(str, partial))} only the definitions (they also do other work)"
        out.append(text + ".")
    if steps.skipped:
        out.append(f"{rel}: skipped " + "; ".join(f"cell {c} ({why})" for c, why in steps.skipped) + ".")
    if steps.removed:
        out.append(removed_note(rel, steps.removed))
    if steps.later:
        which = f"cell {steps.later[0]}" if len(steps.later) == 1 else f"cells {steps.later[0]}-{steps.later[-1]}"
        out.append(f"{rel}: {len(steps.later)} code cell(s) after the model's definition were not run ({which}).")
    for f in steps.failures:
        out.append(f"{f.where}: `{f.statement}` failed ({f.error}) and was skipped.")
    return out
