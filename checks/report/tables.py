"""Markdown tables through tabulate, the same bytes on every machine.

Cells arrive escaped (`_values.cell`). Column widths are counted in code points: tabulate would
count display width when the optional wcwidth package is installed, and reports must not depend
on what else a machine has.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tabulate as _tabulate


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> list[str]:
    """A GitHub-markdown table as lines; `align` per column: left (default), right or center."""
    _tabulate.WIDE_CHARS_MODE = False  # code-point widths (see the module docstring)
    cols = list(align) if align is not None else ["left"] * len(headers)
    text = _tabulate.tabulate([["" if c is None else str(c) for c in row] for row in rows],
                              headers=[str(h) for h in headers], tablefmt="pipe", colalign=cols,
                              disable_numparse=True)
    return text.splitlines()
