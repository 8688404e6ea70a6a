"""The Python source of a folder or notebook target, parsed but never run: files and notebook cells.

A `Unit` is one parsed piece of code: a `.py` file, or one code cell of a `.ipynb` notebook (read
as JSON here, no jupyter needed). Notebook cells lose their IPython-only lines first: a line
magic (`%matplotlib inline`), a shell escape (`!pip install ...`, `x = !ls`) or a help line
(`model?`) becomes `pass` at the same indentation, and a cell magic other than the timing ones
(`%%bash`, `%%writefile`) skips the whole cell. Everything removed is recorded for the notes.

Pure: no torch, nothing of the repository imported.
"""
from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# Folders a repository scan never enters: tooling, environments, build output, tests and docs.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist", "venv", "env",
                       "tests", "test", "docs", "doc", "wandb", "runs", "logs", "outputs", "checkpoints",
                       "lightning_logs", "mlruns"})
SKIP_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py"})
MAX_FILES = 2000
MAX_FILE_BYTES = 1 << 20
MAX_YAML_BYTES = 256 << 10
NOTEBOOK_SUFFIX = ".ipynb"
# Cell magics whose body is ordinary Python: the magic line goes, the cell runs.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


@dataclass
class Unit:
    """One parsed piece of source: a .py file, or one notebook cell (`cell`: its number, from 1)."""

    path: Path
    rel: str  # relative to the folder audited, '/'-separated
    tree: ast.Module
    text: str
    cell: int | None = None

    def where(self, line: int | None = None) -> str:
        at = f"{self.rel} cell {self.cell}" if self.cell is not None else self.rel
        return f"{at} line {line}" if line else at

    @property
    def notebook(self) -> bool:
        return self.cell is not None


@dataclass
class Cell:
    """A notebook code cell as read: its number among all cells, its cleaned code, what was removed."""

    number: int
    code: str
    removed: list[str] = field(default_factory=list)  # "line 2: !pip install x" (magics, shell escapes)
    skipped: str = ""  # why the whole cell is left out (a cell magic, a syntax error)


@dataclass
class Sources:
    """Everything a folder (or a lone notebook) holds that the inference reads."""

    root: Path
    units: list[Unit] = field(default_factory=list)
    cells: dict[str, list[Cell]] = field(default_factory=dict)  # notebook rel path -> its code cells
    yaml_files: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "old.py (SyntaxError line 3)"
    truncated: bool = False


def rel_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def walk(root: Path) -> tuple[list[Path], list[Path], list[Path], bool]:
    """The .py files, notebooks and YAML files under `root` (sorted; skipped folders left out)."""
    py: list[Path] = []
    nbs: list[Path] = []
    yml: list[Path] = []
    truncated = False
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d not in SKIP_DIRS
                         and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(here) / name
            if name.endswith(".py") and name not in SKIP_FILES and not name.startswith("test_") \
                    and not name.endswith("_test.py"):
                py.append(path)
            elif name.endswith(NOTEBOOK_SUFFIX) and not name.startswith("."):
                nbs.append(path)
            elif name.endswith((".yaml", ".yml")):
                yml.append(path)
        if len(py) + len(nbs) > MAX_FILES:
            truncated = True
            break
    return py, nbs, yml, truncated


def _parse(text: str, name: str) -> tuple[ast.Module | None, str]:
    try:
        return ast.parse(text, filename=name), ""
    except SyntaxError as exc:
        return None, f"SyntaxError line {exc.lineno}"
    except ValueError as exc:  # null bytes
        return None, str(exc)


def read_sources(root: Path) -> Sources:
    """Parse every Python file and notebook under `root` (a folder), or the one notebook `root` is."""
    root = root.resolve()
    if root.is_file():
        out = Sources(root.parent)
        _add_notebook(out, root)
        return out
    out = Sources(root)
    py, nbs, yml, out.truncated = walk(root)
    out.yaml_files = [p for p in yml if _size(p) <= MAX_YAML_BYTES]
    for path in py:
        if _size(path) > MAX_FILE_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            out.unreadable.append(f"{rel_path(path, root)} (not UTF-8 text)")
            continue
        tree, problem = _parse(text, str(path))
        if tree is None:
            out.unreadable.append(f"{rel_path(path, root)} ({problem})")
            continue
        out.units.append(Unit(path, rel_path(path, root), tree, text))
    for path in nbs:
        _add_notebook(out, path)
    return out


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return MAX_FILE_BYTES + 1


def _add_notebook(out: Sources, path: Path) -> None:
    rel = rel_path(path, out.root)
    try:
        cells = read_notebook(path)
    except ValueError as exc:
        out.unreadable.append(f"{rel} ({exc})")
        return
    out.cells[rel] = cells
    for cell in cells:
        if cell.skipped:
            continue
        tree, problem = _parse(cell.code, f"{path}#cell{cell.number}")
        if tree is None:
            cell.skipped = problem
            continue
        out.units.append(Unit(path, rel, tree, cell.code, cell=cell.number))


def read_notebook(path: Path) -> list[Cell]:
    """The code cells of an .ipynb file (nbformat 4, or 3's worksheets), IPython syntax removed."""
    if _size(path) > 8 * MAX_FILE_BYTES:
        raise ValueError("larger than 8 MiB")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a readable notebook: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ValueError("not a notebook (no cells)")
    raw = data.get("cells")
    if raw is None:  # nbformat 3
        raw = [c for ws in data.get("worksheets") or [] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(raw, list):
        raise ValueError("not a notebook (no cells)")
    cells = []
    for number, cell in enumerate(raw, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        text = "".join(src) if isinstance(src, list) else str(src or "")
        cells.append(clean_cell(number, text))
    return cells


_HELP = re.compile(r"^\s*[\w.]+\?{1,2}\s*$")
_SHELL_ASSIGN = re.compile(r"^\s*[\w, ]+=\s*[!%]")


def clean_cell(number: int, text: str) -> Cell:
    """A cell's code with IPython lines replaced by `pass` (same indentation), each one recorded."""
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    cell = Cell(number, "")
    if first.startswith("%%"):
        magic = first.split()[0]
        if magic not in PYTHON_CELL_MAGICS:
            cell.skipped = f"cell magic {magic}"
            cell.removed.append(f"cell {number}: {short_line(first)} (the whole cell)")
            return cell
    kept = []
    for i, line in enumerate(lines, start=1):
        body = line.lstrip()
        if body.startswith(("%", "!")) or _HELP.match(line) or _SHELL_ASSIGN.match(line):
            indent = line[:len(line) - len(body)]
            kept.append(f"{indent}pass")
            cell.removed.append(f"cell {number} line {i}: {short_line(body)}")
        else:
            kept.append(line)
    cell.code = "\n".join(kept) + "\n"
    return cell


def removed_note(where: str, removed: list[str], shown: int = 8) -> str:
    """The note naming the IPython lines left out of a notebook (`clean_cell`'s record)."""
    more = f" and {len(removed) - shown} more" if len(removed) > shown else ""
    return f"{where}: IPython magics and shell escapes not run: {'; '.join(removed[:shown])}{more}."


def short_line(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
