"""Source locations in a report: a finding's `location` ({path, line}, or a list of them when it has
several) read back, shown as `path:line`, and linked from the markdown when the report sits in the
tree its paths are relative to.

A link is relative to the report's own folder (`../model.py#L74`), so it works wherever the tree is
checked out and on GitHub alike; a path that is no file of that tree (a module path such as
`torchvision/models/alexnet.py`, outside it) is shown without a link.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def location_list(value: Any) -> list[dict[str, Any]]:
    """A finding's (or target's) `location` as a list of {path, line} (empty when it has none)."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return [x for x in items if isinstance(x, dict) and x.get("path") and isinstance(x.get("line"), int)]


def show_location(loc: dict[str, Any]) -> str:
    """`path:line`, the form editors and terminals open."""
    return f"{loc['path']}:{loc['line']}"


def first_location(finding: dict[str, Any]) -> dict[str, Any] | None:
    locs = location_list(finding.get("location"))
    return locs[0] if locs else None


@dataclass(frozen=True)
class Links:
    """How the markdown links a location: `prefix` leads from the report's folder to `root`, the tree
    the paths are relative to; only paths that are files under `root` are linked."""

    root: Path
    prefix: str

    def render(self, loc: dict[str, Any]) -> str:
        text = f"`{show_location(loc)}`"
        path = str(loc["path"])
        if path.startswith(("/", "..")) or not (self.root / path).is_file():
            return text
        href = f"{self.prefix}/{path}" if self.prefix not in ("", ".") else path
        return f"[{text}]({href}#L{loc['line']})"


def links_for(out_dir: str | Path, root: str | Path | None = None, read_from: str | Path | None = None) \
        -> Links | None:
    """The links of a report written into `out_dir` (read from `read_from`, default `out_dir`) whose
    locations are relative to `root` (default: the current directory); None when the report does not
    sit under `root`."""
    tree = Path(os.path.abspath(root if root is not None else os.getcwd()))
    where = Path(os.path.abspath(read_from if read_from is not None else out_dir))
    if where != tree and tree not in where.parents:
        return None
    return Links(tree, Path(os.path.relpath(tree, where)).as_posix())
