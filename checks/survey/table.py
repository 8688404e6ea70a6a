"""The corpus table: one row per target x item, streamed from the targets' JSON reports into
survey.parquet and survey.csv, and the totals survey.md is written from.

The rows are `report.frame`'s columns (what `load_reports` gives for the same reports) plus the item's
observed value (compact JSON) and the finding's `caused_by`. Reports are read one at a time, in corpus
order, and written in row groups of `BATCH` targets, so memory does not grow with the corpus and the
same reports give the same bytes whichever engine, cluster or run order produced them.
"""
from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from ..core.files import atomic_path
from ..report.frame import COLUMNS as REPORT_COLUMNS

COLUMNS = (*REPORT_COLUMNS, "observed", "caused_by")
STATUSES = ("pass", "variant", "deviation", "skip", "error")
BATCH = 256  # targets per parquet row group


def _observed(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's rows, in spec order."""
    target = report.get("target") or {}
    summary = report.get("summary") or {}
    waived = (summary.get("gate") or {}).get("waived") or {}
    score = summary.get("fidelity_score")
    return [{"target": target.get("name"), "source": target.get("source"), "id": f.get("id"),
             "group": f.get("group"), "section": f.get("section"), "severity": f.get("severity"),
             "status": f.get("status"), "variant": f.get("variant"), "waived": f.get("id") in waived,
             "message": f.get("message"), "fidelity_score": None if score is None else float(score),
             "observed": _observed(f.get("observed")), "caused_by": ",".join(f.get("caused_by") or []) or None}
            for f in report.get("findings") or []]


@dataclass
class Totals:
    """What survey.md says, gathered while the rows stream by (bounded by items², not by targets)."""

    spec: dict[str, Any] = field(default_factory=dict)
    items: dict[str, Counter[str]] = field(default_factory=dict)  # id -> status counts
    severity: dict[str, str] = field(default_factory=dict)
    group: dict[str, str] = field(default_factory=dict)
    variants: dict[str, Counter[str]] = field(default_factory=dict)  # id -> accepted variant names
    deviations: Counter[str] = field(default_factory=Counter)  # primary deviations (no caused_by)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    sets: Counter[tuple[str, ...]] = field(default_factory=Counter)
    scores: list[tuple[float | None, str]] = field(default_factory=list)  # (score, target): one float a target
    errors: Counter[str] = field(default_factory=Counter)  # cause of targets that could not be audited
    targets: int = 0
    gate_failed: int = 0  # targets whose own gate (fail_on, require_explained) failed

    def add(self, report: dict[str, Any], table: list[dict[str, Any]]) -> None:
        self.targets += 1
        self.spec = self.spec or dict(report.get("spec") or {})
        primary = []
        for row in table:
            item = str(row["id"])
            self.items.setdefault(item, Counter())[str(row["status"])] += 1
            self.severity.setdefault(item, str(row["severity"]))
            self.group.setdefault(item, str(row["group"]))
            if row["status"] == "variant":
                self.variants.setdefault(item, Counter())[str(row["variant"] or "variant")] += 1
            if row["status"] == "deviation" and not row["caused_by"] and not row["waived"]:
                primary.append(item)
        self.deviations.update(primary)
        self.pairs.update(combinations(sorted(primary), 2))
        if primary:
            self.sets[tuple(sorted(primary))] += 1
        target = report.get("target") or {}
        score = (report.get("summary") or {}).get("fidelity_score")
        self.scores.append((None if score is None else float(score), str(target.get("name"))))
        if target.get("error"):
            self.errors[str(target["error"])] += 1
        if ((report.get("summary") or {}).get("gate") or {}).get("passed") is False:
            self.gate_failed += 1


def _schema() -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    types = {"waived": pa.bool_(), "fidelity_score": pa.float64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])


class Writer:
    """Rows into a parquet file and a CSV file, a batch of targets at a time."""

    def __init__(self, parquet_path: Path, csv_file: Any) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.parquet = pq.ParquetWriter(str(parquet_path), _schema(), compression="zstd", write_statistics=False)
        self.csv = csv.DictWriter(csv_file, fieldnames=list(COLUMNS), lineterminator="\n")
        self.csv.writeheader()
        self.batch: list[dict[str, Any]] = []
        self.pending = 0

    def add(self, table: list[dict[str, Any]]) -> None:
        self.batch.extend(table)
        self.pending += 1
        self.csv.writerows({**r, "fidelity_score": _csv_float(r["fidelity_score"])} for r in table)
        if self.pending >= BATCH:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.batch:
            self.parquet.write_table(pa.Table.from_pylist(self.batch, schema=_schema()))
        self.batch, self.pending = [], 0

    def close(self) -> None:
        self.flush()
        self.parquet.close()


def _csv_float(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def write(reports: Iterable[dict[str, Any]], out: Path) -> Totals:
    """Stream `reports` (corpus order) into survey.parquet / survey.csv (each replaced atomically when
    whole); the totals for survey.md."""
    totals = Totals()
    with atomic_path(out / "survey.parquet") as parquet_path, atomic_path(out / "survey.csv") as csv_path, \
            open(csv_path, "w", encoding="utf-8", newline="") as csv_file:
        writer = Writer(parquet_path, csv_file)
        for report in reports:
            table = rows(report)
            totals.add(report, table)
            writer.add(table)
        writer.close()
    return totals
