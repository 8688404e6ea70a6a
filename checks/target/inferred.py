"""The manifest a folder or notebook audit inferred, as YAML text to write beside the reports.

The worker returns `Target.inferred` (a JSON payload: the entries, each with the comment that says
where its value came from, and the notes) under the result key `inferred_manifest`; the parent,
which never imports target code, renders it with `manifest_text(payload, directory)` into
`<stem>.yaml` in the reports' directory. `inferred_from:` is written relative to that directory.
Auditing the file gives the same report as auditing the folder; changing one value changes only
what follows from it.

Pure: no torch, no target code.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RESULT_KEY = "inferred_manifest"


def _flow(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[:-4].strip()
    return text.removesuffix("...").strip()


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _relative(target: str, directory: Path | None) -> str:
    if directory is None:
        return target
    try:
        return Path(os.path.relpath(target, Path(directory).resolve())).as_posix()
    except ValueError:  # another drive
        return target


def manifest_text(payload: Mapping[str, Any], directory: Path | str | None = None) -> str:
    """The manifest as YAML, with `inferred_from` relative to `directory` (where it is written)."""
    directory = Path(directory) if directory is not None else None
    kind = str(payload.get("kind") or "folder")
    source = _relative(str(payload["from"]), directory)
    lines = [
        f"# Inferred by alexnet-audit from the {kind} {Path(str(payload['from'])).name}: every value below was",
        "# found, not given (the comment after each says where). Correct any of them and audit this file:",
        "# unchanged, it gives the same report as the " + kind + "; its notes are that audit's.",
        f"name: {_flow(str(payload['name']))}",
        f"inferred_from: {_flow(source)}  # the {kind} audited; the paths below are relative to "
        + ("its folder" if kind == "notebook" else "it, and its files are imported without their script code"),
    ]
    for key, value, comment in payload.get("entries") or []:
        lines.append(f"{key}: {_flow(value)}  # {_comment(comment)}")
    notes = list(payload.get("notes") or [])
    if notes:
        lines.append("notes:")
        lines += [f"  - {_flow(str(n))}" for n in notes]
    return "\n".join(lines) + "\n"
