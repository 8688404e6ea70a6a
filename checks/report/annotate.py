"""What a terminal and a CI job show of an audit: compiler-style lines, GitHub Actions annotations and
the job summary, each rendered from the JSON report.

The findings shown are the ones the gate weighs: every deviation and every error that no waiver
accepts, in spec order. A terminal line reads like a compiler's, so that editors and terminals open
the file at the line:

    model.py:74: dropout.placement [major] dropout.placement differs from the paper: ...

With `GITHUB_ACTIONS=true` (`in_github_actions`) the front ends also print one workflow command per
such finding (`::error` for major deviations and errors, `::warning` for minor, `::notice` for info,
at the finding's first location) and append the verdict block and a table of the deviations to the
file `$GITHUB_STEP_SUMMARY` names. Paths are relative to where the command ran; a run in a
subfolder of the job's checkout (`$GITHUB_WORKSPACE`) prefixes that folder, so annotations land on
the repository's files.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .locations import location_list, show_location
from .markdown import verdict_lines
from .tables import md_table
from .values import cell

COMMANDS = {"major": "error", "minor": "warning", "info": "notice"}
_ANCHOR_LINK = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")


def flagged(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings the gate weighs: deviations and errors that no waiver accepts, in report order."""
    return [f for f in data.get("findings") or [] if f.get("status") in ("deviation", "error") and not f.get("waived")]


def _message(f: dict[str, Any]) -> str:
    text = " ".join(str(f.get("message") or "").split())
    return f"error: {text}" if f.get("status") == "error" else text


def _head(f: dict[str, Any]) -> str:
    return f"{f['id']} [{f.get('severity')}]"


def compiler_lines(data: dict[str, Any]) -> list[str]:
    """One line per flagged finding: `path:line: id [severity] message` (without a location, the
    line starts at the id); further locations follow as `(also path:line, ...)`."""
    out = []
    for f in flagged(data):
        locs = [show_location(x) for x in location_list(f.get("location"))]
        also = f" (also {', '.join(locs[1:])})" if len(locs) > 1 else ""
        where = f"{locs[0]}: " if locs else ""
        out.append(f"{where}{_head(f)} {_message(f)}{also}")
    return out


def in_github_actions(env: dict[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS", "").lower() == "true"


def _workspace_prefix(env: dict[str, str]) -> str:
    """The folder the command ran in, relative to the job's checkout ("" at its root or outside it)."""
    ws = env.get("GITHUB_WORKSPACE")
    if not ws:
        return ""
    here, root = Path(os.path.abspath(os.getcwd())), Path(os.path.abspath(ws))
    if here == root or root not in here.parents:
        return ""
    return here.relative_to(root).as_posix() + "/"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(data: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    """One workflow command per flagged finding: `::error file=model.py,line=74,title=...::message`."""
    env = dict(os.environ) if env is None else env
    prefix = _workspace_prefix(env)
    out = []
    for f in flagged(data):
        kind = "error" if f.get("status") == "error" else COMMANDS.get(str(f.get("severity")), "warning")
        locs = location_list(f.get("location"))
        props = []
        if locs:
            props += [f"file={_escape(prefix + str(locs[0]['path']), True)}", f"line={int(locs[0]['line'])}"]
        props.append(f"title={_escape(_head(f), True)}")
        also = [show_location(x) for x in locs[1:]]
        text = _message(f) + (f" (also {', '.join(also)})" if also else "")
        out.append(f"::{kind} {','.join(props)}::{_escape(text)}")
    return out


def error_annotation(text: str) -> str:
    """One `::error` workflow command for a run that measured nothing (its one-line cause)."""
    return f"::error title=alexnet-audit::{_escape(' '.join(text.split()))}"


def step_summary(data: dict[str, Any]) -> str:
    """The job summary's markdown: the target, the verdict block and a table of the deviations (the
    report's in-page links to items become plain ids: the summary has no such anchors)."""
    target = data.get("target") or {}
    verdict = [_ANCHOR_LINK.sub(r"`\1`", line) for line in verdict_lines(data)]
    lines = [f"# alexnet-audit: {target.get('name', 'target')}", "", *verdict]
    rows = []
    for f in data.get("findings") or []:
        if f.get("status") not in ("deviation", "error"):
            continue
        locs = ", ".join(f"`{show_location(x)}`" for x in location_list(f.get("location"))) or "—"
        state = f.get("status", "") + (" (waived)" if f.get("waived") else "")
        rows.append([f"`{f['id']}`", str(f.get("severity", "")), state, locs, cell(_message(f), 200)])
    if rows:
        lines += ["## Deviations", "", *md_table(["id", "severity", "status", "location", "message"], rows), ""]
    else:
        lines += ["No deviation and no error.", ""]
    return "\n".join(lines)


def append_step_summary(text: str, env: dict[str, str] | None = None) -> Path | None:
    """Append `text` to the file `$GITHUB_STEP_SUMMARY` names; the path, or None without one."""
    env = dict(os.environ) if env is None else env
    name = env.get("GITHUB_STEP_SUMMARY")
    if not name:
        return None
    path = Path(name)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return path
