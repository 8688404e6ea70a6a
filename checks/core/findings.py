"""Statuses, severities and the result records that every part of the audit exchanges."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """Outcome of one spec item on one target (README, "Statuses, severities and the fidelity score")."""

    PASS = "pass"
    VARIANT = "variant"
    DEVIATION = "deviation"
    SKIP = "skip"
    ERROR = "error"


class Severity(enum.StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"


@dataclass(frozen=True)
class Observation:
    """What a probe measured: a value the judge compares, plus evidence for the reader."""

    value: Any
    evidence: str = ""
    where: str = ""
    # Measured facts the judge may use to attribute a difference to another item (never compared),
    # e.g. the role of every stage of the layer sequence.
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


class Skip(Exception):
    """Raised by a probe when its item cannot be observed on this target; the message is the reason."""


class Absent(Exception):
    """Raised when a probe asks for a recipe part the target says it does not have (`scheduler: none`).

    Unlike a missing key (skip), a declared absence is a measurement: the item is judged on "none".
    """


@dataclass(frozen=True, order=True)
class Location:
    """Where in the target's source a finding points: a repository-relative path (never absolute,
    the same on every machine) and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line}


@dataclass
class Finding:
    id: str
    status: Status
    severity: Severity
    expected: Any
    observed: Any
    message: str
    where: str = ""
    variant: str | None = None
    evidence: str = ""
    waived: str | None = None
    # Derived findings (counts, sizes) that a primary deviation explains name it here; the
    # fidelity score counts that defect once (README, "Statuses, severities and the fidelity score").
    caused_by: list[str] | None = None
    # A finding that passes although its observation differs, because other items report each
    # difference (the layer sequence): those items.
    covered_by: list[str] | None = None
    explained: bool | None = None  # False: the verdict rests on a part the rebuild check did not reproduce
    # Where the target's code builds or computes what this finding is about (audit.locate), in order.
    location: list[Location] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "status": self.status.value,
            "severity": self.severity.value,
            "expected": self.expected,
            "observed": self.observed,
            "message": self.message,
            "where": self.where,
        }
        if self.variant is not None:
            out["variant"] = self.variant
        if self.evidence:
            out["evidence"] = self.evidence
        if self.waived is not None:
            out["waived"] = self.waived
        if self.caused_by:
            out["caused_by"] = list(self.caused_by)
        if self.covered_by:
            out["covered_by"] = list(self.covered_by)
        if self.explained is False:
            out["explained"] = False
        if self.location:  # one {path, line}, or a list of them when the finding has several
            locs = [loc.to_dict() for loc in self.location]
            out["location"] = locs[0] if len(locs) == 1 else locs
        return out


@dataclass
class Report:
    target: dict[str, Any]
    spec: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, Finding]:
        return {f.id: f for f in self.findings}
