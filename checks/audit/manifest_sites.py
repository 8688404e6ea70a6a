"""Recipe sites from a YAML manifest target: the line that declares each key, and the code line that a
captured manifest's comment names.

`alexnet-audit capture` writes each value with a comment saying where the run built it
(`optimizer: {type: SGD, ...}  # train.py:35`, or `nb.ipynb#cell9:3` in a notebook), the path
relative to the folder the command ran from. That file is looked for beside the manifest, under
its `sys_path` entries and its `inferred_from`; found, the code line is the site, else the
manifest's own line is. The manifest is read here, as text, with `yaml.compose` for the node
lines: the target's loader is not involved.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sites import Site

_CODE = re.compile(r"([\w.\-/]+\.(?:py|ipynb))(#cell\d+)?:(\d+)")  # a notebook's line is in a cell
_COMMENT = re.compile(r"\s#(.*)$")


@dataclass
class ManifestSites:
    """Per top-level key of a manifest: the line declaring it, and the captured code line if any."""

    path: Path
    declared: dict[str, Site] = field(default_factory=dict)
    captured: dict[str, Site] = field(default_factory=dict)

    def site(self, key: str) -> Site | None:
        return self.captured.get(key) or self.declared.get(key)


def is_manifest(source: str) -> bool:
    return source.endswith((".yaml", ".yml"))


def _folders(path: Path, data: Any) -> list[Path]:
    """Where a captured comment's relative paths may start: the manifest's folder, its sys_path
    entries and the folder it was inferred from (each relative to the manifest)."""
    here = path.parent
    out = [here]
    if isinstance(data, dict):
        entries = data.get("sys_path") or []
        for entry in [entries] if isinstance(entries, str) else list(entries):
            out.append(here / str(entry))
        if data.get("inferred_from"):
            origin = here / str(data["inferred_from"])
            out.append(origin if origin.is_dir() else origin.parent)
    return out


def manifest_sites(source: str) -> ManifestSites | None:
    """The sites of the manifest at `source`, or None when it is not a readable YAML mapping."""
    import yaml

    if not is_manifest(source):
        return None
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    lines = text.splitlines()
    folders = _folders(path, data)
    out = ManifestSites(path.resolve())
    for key_node, _value in root.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        out.declared.setdefault(key, Site(str(out.path), line))
        comment = _COMMENT.search(lines[line - 1]) if line <= len(lines) else None
        code = _CODE.search(comment.group(1)) if comment else None
        if code is None:
            continue
        for folder in folders:
            candidate = folder / code.group(1)
            if candidate.is_file():
                cell = code.group(2) or ""
                out.captured.setdefault(key, Site(f"{candidate.resolve()}{cell}", int(code.group(3))))
                break
    return out
