"""Deviation reports: per-target markdown and JSON, and the cross-target comparison.

    report_to_dict(report, spec, gate=None) -> dict     the JSON report
    to_json(report, spec, gate=None) -> str
    to_markdown(report, spec, gate=None) -> str
    write_reports(report, spec, out_dir, formats=("md", "json"), gate=None) -> [Path]
    write_comparison(results, out_dir) -> [Path]         comparison.md / .json / .csv / .png
    load_reports(dir) -> pandas.DataFrame                 one row per target x item

Everything is deterministic: the same report gives the same bytes (no timestamps, rounded floats,
no absolute paths). `gate` is duck-typed (`passed`, `fail_on`, `failing`, `waived`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..findings import Report
from ..refs import safe_name
from ..spec import Spec
from .claims import review_claims
from .comparison import comparison_dict, write_comparison, write_heatmap
from .data import FORMAT, WEIGHTS, dumps, fidelity, report_to_dict, to_json
from .frame import findings_frame, load_reports
from .markdown import SYMBOLS, anchor
from .markdown import render as _render_markdown

__all__ = [
    "FORMAT",
    "SYMBOLS",
    "WEIGHTS",
    "anchor",
    "comparison_dict",
    "fidelity",
    "findings_frame",
    "load_reports",
    "report_to_dict",
    "review_claims",
    "safe_name",
    "to_json",
    "to_markdown",
    "write_comparison",
    "write_heatmap",
    "write_reports",
]


def to_markdown(report: Report, spec: Spec, gate: Any = None) -> str:
    return _render_markdown(report_to_dict(report, spec, gate), spec)


def write_reports(report: Report, spec: Spec, out_dir: str | Path, formats: Iterable[str] = ("md", "json"),
                  gate: Any = None) -> list[Path]:
    """Write `<name>.md` and/or `<name>.json` into `out_dir` (created); return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = report_to_dict(report, spec, gate)
    stem = safe_name(data["target"].get("name") or "target")
    paths: list[Path] = []
    for fmt in formats:
        if fmt == "md":
            text = _render_markdown(data, spec)
        elif fmt == "json":
            text = dumps(data)
        else:
            raise ValueError(f"unknown report format {fmt!r} (md or json)")
        path = out / f"{stem}.{fmt}"
        path.write_text(text, encoding="utf-8", newline="\n")
        paths.append(path)
    return paths
