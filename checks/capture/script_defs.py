"""The definitions of a captured script (or notebook) that its manifest names, loaded without running it.

Importing a training script would train. A class or function the script defines (the model, a
transform) that the captured manifest names is reached through `<stem>_defs.py`, which holds one
call: `load_definitions(globals(), "<path of the script>")`. That reads the script as it is now
and runs only its imports, classes, functions and literal constants (and `try:` blocks of
imports), compiled under the script's own file name and line numbers, cell by cell for a
notebook (`nb.ipynb#cellN`). So a finding about the model names the script's line, not a copy's,
and an edit of the script is what the next audit of the manifest sees.
"""
from __future__ import annotations

import ast
import linecache
from pathlib import Path
from typing import Any


def _kept(tree: ast.Module) -> list[ast.stmt]:
    """The definitions of a module body: imports, classes, functions, literal constants."""
    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            keep.append(node)
        elif isinstance(node, ast.Try) and all(isinstance(n, ast.Import | ast.ImportFrom) for n in node.body):
            keep.append(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            keep.append(node)
    return keep


def _pieces(script: Path) -> list[tuple[str, str]]:
    """(file name, source) of each piece of code: the script, or each code cell of a notebook."""
    if script.suffix != ".ipynb":
        return [(str(script), script.read_text(encoding="utf-8-sig"))]
    from ..target.sources import read_notebook

    return [(f"{script}#cell{c.number}", c.code) for c in read_notebook(script) if not c.skipped]


def load_definitions(namespace: dict[str, Any], script: str) -> None:
    """Run the definitions of `script` (relative to the file whose globals `namespace` is) into `namespace`."""
    here = Path(namespace.get("__file__") or ".").resolve().parent
    path = (here / script).resolve()
    for name, source in _pieces(path):
        tree = ast.parse(source, filename=name)
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)  # tracebacks show the lines
        body = ast.Module(body=_kept(tree), type_ignores=[])
        exec(compile(body, name, "exec"), namespace)  # noqa: S102  (the user's own definitions, not the script)


def definitions_file(script: Path, out: Path) -> str:
    """The text of `<stem>_defs.py` in `out`, loading the definitions of `script`."""
    import os

    rel = Path(os.path.relpath(script.resolve(), out.resolve())).as_posix()
    return (f'"""The definitions of {script.name} that the manifest beside this file names: its imports, classes, '
            "functions\nand constants, read from the script itself and compiled at its own lines (importing the "
            'script would run it).\nWritten by alexnet-audit capture."""\n'
            "from alexnet_audit.capture.script_defs import load_definitions\n\n"
            f"load_definitions(globals(), {rel!r})\n")
