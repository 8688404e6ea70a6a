"""Reports as a pandas table: one row per target x item, for users' own analysis and for CSV.

`load_reports(dir)` reads the JSON reports an audit or a comparison wrote; `findings_frame` builds
the same table from report dicts in memory (what `compare` writes as comparison.csv).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("target", "source", "id", "group", "section", "severity", "status", "variant", "waived", "message",
           "fidelity_score")


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    target = report.get("target") or {}
    summary = report.get("summary") or {}
    waived = ((summary.get("gate") or {}).get("waived")) or {}
    rows = []
    for f in report.get("findings") or []:
        rows.append({
            "target": target.get("name"),
            "source": target.get("source"),
            "id": f.get("id"),
            "group": f.get("group"),
            "section": f.get("section"),
            "severity": f.get("severity"),
            "status": f.get("status"),
            "variant": f.get("variant"),
            "waived": f.get("id") in waived,
            "message": f.get("message"),
            "fidelity_score": summary.get("fidelity_score"),
        })
    return rows


def findings_frame(reports: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (target, item), in the reports' order and spec order."""
    import pandas as pd

    rows = [row for report in reports for row in _rows(report)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _is_report(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("findings"), list) and isinstance(data.get("target"), dict)


def load_reports(directory: str | Path) -> pd.DataFrame:
    """Every per-target JSON report in `directory` (sorted by file name) as one table.

    Files that are not per-target reports (comparison.json, other JSON) are left out; a directory
    with none gives an empty table with the same columns.
    """
    reports = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _is_report(data):
            reports.append(data)
    return findings_frame(reports)


def write_csv(reports: Iterable[dict[str, Any]], path: Path) -> Path:
    """The table as CSV with fixed formatting (same bytes on every machine)."""
    frame = findings_frame(reports)
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.1f")
    path.write_text(text, encoding="utf-8", newline="\n")
    return path
