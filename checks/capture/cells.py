"""A notebook run top to bottom as Jupyter would, inside a captured process: our own cell runner.

`alexnet-audit capture nb.ipynb` (and `audit nb.ipynb --train`) starts
`python -m alexnet_audit.capture.cells nb.ipynb [args]` under the capture's bootstrap, so the
instrumentation is in place before the first cell, exactly as for a script. The code cells run in
order in one `__main__` namespace, from the notebook's folder (as a kernel started there would).
Each cell is compiled under the name `nb.ipynb#cellN` (N: the cell's number among all cells, as
the audit's locations count them), so the recorded `file:line` of an optimizer or a loader names
its cell. IPython-only lines (magics, shell escapes, help) are not Python: `sources.clean_cell`
turns them into `pass`, and a cell magic such as `%%bash` skips its cell; each is named in the
run's notes. `display()` prints. An error ends the run at its cell, as "Run all" stops there.

Why not nbclient or jupytext: nbclient runs the cells in a separate kernel process (the
instrumentation would have to be injected into the kernel, and ipykernel/ZMQ would be new
dependencies); jupytext only converts, and a converted script would lose the cell locations. The
cleaning rules are the ones the static reading of a notebook target already uses.
"""
from __future__ import annotations

import linecache
import sys
import types
from pathlib import Path
from typing import Any


def _display(*objs: Any, **_: Any) -> None:
    """IPython's `display`, as text in the run's log."""
    for obj in objs:
        print(repr(obj))


def _note_cells(path: Path, cells: list[Any]) -> None:
    """What of the notebook is not Python, in the capture's notes (when instrumented)."""
    from . import child

    rec = child.RECORDER
    if rec is None:
        return
    rec.data["script_dir"] = rec.rel(str(path.parent))
    rec.data["main_file"] = rec.rel(str(path))
    removed = [r for c in cells for r in c.removed]
    if removed:
        from ..target.sources import removed_note

        rec.note(removed_note(path.name, removed))
    rec.save()


def run_notebook(path: Path, args: list[str]) -> None:
    """Run the code cells of the notebook at `path` in order, as `__main__` (see the module docstring)."""
    from ..target.sources import read_notebook

    path = path.resolve()
    try:
        cells = read_notebook(path)
    except ValueError as exc:
        raise SystemExit(f"{path.name}: {exc}") from None
    _note_cells(path, cells)
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=__builtins__, display=_display)
    sys.modules["__main__"] = main
    sys.argv = [str(path), *args]
    sys.path[0] = str(path.parent)
    for cell in cells:
        if cell.skipped or not cell.code.strip():
            continue
        name = f"{path}#cell{cell.number}"
        linecache.cache[name] = (len(cell.code), None, cell.code.splitlines(True), name)
        code = compile(cell.code, name, "exec")
        exec(code, main.__dict__)  # noqa: S102  (the user's notebook, run as its kernel would)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or not argv[0].endswith(".ipynb"):
        raise SystemExit("usage: python -m alexnet_audit.capture.cells NOTEBOOK.ipynb [args]")
    run_notebook(Path(argv[0]), argv[1:])


if __name__ == "__main__":
    main()
