"""The definitions of a captured script (or notebook) that a manifest may name, copied out of it.

Importing the script would run it; a class or function it defines (a transform, a model) that the
captured manifest names is written to `<stem>_defs.py` instead: its imports, classes, functions and
literal constants, without its top-level statements.
"""
from __future__ import annotations

from pathlib import Path


def extract_definitions(script: Path) -> str:
    """The script's imports, classes, functions and literal constants, without its top-level statements."""
    import ast

    source = _script_source(script)
    tree = ast.parse(source)
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
    body = "\n\n".join(ast.get_source_segment(source, n) or ast.unparse(n) for n in keep)
    return (f'"""Definitions copied by alexnet-audit capture from {script.name}: its imports, classes, functions and '
            'constants (importing the script itself would run it)."""\n' + body + "\n")


def _script_source(script: Path) -> str:
    """A script's text; a notebook's code cells in order (IPython lines as `pass`, cell magics left out)."""
    if script.suffix != ".ipynb":
        return script.read_text(encoding="utf-8")
    from ..target.sources import read_notebook

    return "\n".join(c.code for c in read_notebook(script) if not c.skipped)
