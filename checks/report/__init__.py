"""Deviation reports: per-target markdown and JSON, and the cross-target comparison.

    report_to_dict(report, spec, gate=None) -> dict     the JSON report
    to_json(report, spec, gate=None) -> str
    to_markdown(report, spec, gate=None) -> str
    write_reports(report, spec, out_dir, formats=("md", "json"), gate=None, stem=None) -> [Path]
    write_report_data(data, spec, out_dir, formats=("md", "json"), stem=None) -> [Path]   (md, json, sarif)
    to_sarif(data, spec) -> dict                          SARIF 2.1.0 (one rule per item)
    compiler_lines(data), github_annotations(data), step_summary(data)     terminal and CI views
    write_comparison(results, out_dir, stems=None) -> [Path]   comparison.md / .json / .csv / .png
    load_reports(dir) -> pandas.DataFrame                 one row per target x item

Everything is deterministic: the same report gives the same bytes (no timestamps, rounded floats,
no absolute paths; source locations are repository-relative, and the markdown links them, relative
to its own folder, when it is written inside the tree they are relative to). `gate` is duck-typed
(`passed`, `fail_on`, `failing`, `waived`). File names come from `refs.report_stems`; every file
is written atomically (`files.write_atomic`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.files import write_atomic
from ..core.findings import Report
from ..spec.load import Spec
from ..target.refs import report_stems, safe_name
from .annotate import compiler_lines, github_annotations, step_summary
from .claims import review_claims
from .comparison import comparison_dict, write_comparison, write_heatmap
from .document import FORMAT, WEIGHTS, dumps, fidelity, report_to_dict, to_json
from .frame import findings_frame, load_reports
from .locations import links_for
from .markdown import SYMBOLS, anchor
from .markdown import render as _render_markdown
from .sarif import sarif_dumps, to_sarif

__all__ = [
    "FORMAT",
    "SYMBOLS",
    "WEIGHTS",
    "anchor",
    "comparison_dict",
    "compiler_lines",
    "fidelity",
    "findings_frame",
    "github_annotations",
    "load_reports",
    "report_to_dict",
    "review_claims",
    "safe_name",
    "sarif_dumps",
    "step_summary",
    "to_json",
    "to_markdown",
    "to_sarif",
    "write_comparison",
    "write_heatmap",
    "write_report_data",
    "write_reports",
]


def to_markdown(report: Report, spec: Spec, gate: Any = None) -> str:
    return _render_markdown(report_to_dict(report, spec, gate), spec)


FORMATS = ("md", "json", "sarif")


def write_reports(report: Report, spec: Spec, out_dir: str | Path, formats: Iterable[str] = ("md", "json"),
                  gate: Any = None, stem: str | None = None, *, root: str | Path | None = None,
                  read_from: str | Path | None = None) -> list[Path]:
    """Write `<stem>.md`, `<stem>.json` and/or `<stem>.sarif` into `out_dir` (created); return the
    paths written.

    `stem` defaults to the lone-target stem of the report's name (`refs.report_stems`); `root` and
    `read_from` are `write_report_data`'s.
    """
    return write_report_data(report_to_dict(report, spec, gate), spec, out_dir, formats, stem, root=root,
                             read_from=read_from)


def write_report_data(data: dict[str, Any], spec: Spec, out_dir: str | Path, formats: Iterable[str] = ("md", "json"),
                      stem: str | None = None, *, root: str | Path | None = None,
                      read_from: str | Path | None = None) -> list[Path]:
    """`write_reports` for a report already in its JSON form (what a compare worker sends back).

    The markdown links each source location when the report sits under `root` (the directory its
    locations are relative to; default the current one, where the command ran), relative to
    `read_from` (where it will be read; default `out_dir`). Everything is rendered before anything
    is written, so an unknown format writes nothing.
    """
    texts: list[tuple[str, str]] = []
    for fmt in formats:
        if fmt == "md":
            texts.append((fmt, _render_markdown(data, spec, links_for(out_dir, root, read_from))))
        elif fmt == "json":
            texts.append((fmt, dumps(data)))
        elif fmt == "sarif":
            texts.append((fmt, sarif_dumps(to_sarif(data, spec))))
        else:
            raise ValueError(f"unknown report format {fmt!r} (md, json or sarif)")
    if stem is None:
        stem = report_stems([str(data["target"].get("name") or "target")])[0]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / f"{stem}.{fmt}", text) for fmt, text in texts]
