"""Load and validate paper_spec.yaml: the paper as data (docs/ARCHITECTURE.md, "Bird's-eye view").

Every problem is reported as one line naming the file, the item id and the key, with a
did-you-mean for misspelt keys, so a spec edit never fails with a traceback.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.findings import Severity
from ..core.inputs import did_you_mean, read_yaml, short_repr

GROUPS = ("architecture", "normalisation", "pooling", "dropout", "init", "training", "data", "evaluation", "context")


class SpecError(ValueError):
    """A spec that cannot be used; str() is the one-line message shown to the user."""


class _Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: Any
    why: str


class _Tolerance(BaseModel):
    # A negative (or NaN) tolerance would make every comparison fail, silently.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    abs: float | None = Field(default=None, ge=0)
    rel: float | None = Field(default=None, ge=0)


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    group: Literal[GROUPS]  # type: ignore[valid-type]
    claim: str
    section: str
    severity: Literal["major", "minor", "info"]
    probe: str
    params: dict[str, Any] = {}
    expected: Any
    tolerance: _Tolerance | None = None
    variants: list[_Variant] = []
    impact: str = ""
    fix: str
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not v or v != v.strip() or " " in v:
            raise ValueError("must be a dotted id without spaces")
        return v


class _Paper(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    authors: str
    venue: str
    url: str


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["alexnet-audit/spec"]
    version: str
    paper: _Paper
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class Variant:
    name: str
    value: Any
    why: str


@dataclass(frozen=True)
class Item:
    """One checkable claim of the paper."""

    id: str
    group: str
    claim: str
    section: str
    severity: Severity
    probe: str
    expected: Any
    params: dict[str, Any] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)
    variants: tuple[Variant, ...] = ()
    impact: str = ""
    fix: str = ""
    note: str = ""


@dataclass(frozen=True)
class Spec:
    version: str
    sha256: str
    path: str
    paper: dict[str, str]
    items: tuple[Item, ...]

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]


def default_spec_path() -> Path:
    """The packaged spec: a copy inside an installed wheel, the top-level paper_spec.yaml in a checkout."""
    here = Path(__file__).resolve().parents[1]  # the package: alexnet_audit/paper_spec.yaml
    packaged = here / "paper_spec.yaml"
    return packaged if packaged.is_file() else here.parent / "paper_spec.yaml"


def _first_error(exc: ValidationError, where: str, allowed: list[str]) -> str:
    # A misspelt key shows up as both 'unknown' and 'missing': name the typo, it is the cause.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = [str(p) for p in err["loc"]]
    key = loc[0] if loc else "?"
    dotted = short_repr(".".join(loc))
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key {dotted}{did_you_mean(key, allowed) if len(loc) == 1 else ''}."
    if err["type"] == "missing":
        return f"{where}: missing required key {dotted}."
    got = err.get("input")
    return f"{where}: key {dotted} {err['msg'].lower()} (got {short_repr(got)})."


def load_spec(path: str | Path | None = None) -> Spec:
    """Read, validate and freeze a spec; raises SpecError with one line on any problem.

    Whether each item's probe exists is the probe registry's question (`probes.check_probe_names`).
    """
    p = Path(path) if path is not None else default_spec_path()
    raw, raw_bytes = read_yaml(p, "spec", SpecError)
    if not isinstance(raw, dict):
        raise SpecError(f"{p}: the spec must be a mapping with 'format', 'version', 'paper' and 'items'.")
    try:
        top = _Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_first_error(exc, str(p), list(_Spec.model_fields))) from None

    items: list[Item] = []
    seen: set[str] = set()
    for n, entry in enumerate(top.items):
        given = entry.get("id") if isinstance(entry, dict) else None
        label = given if isinstance(given, str) else f"#{n + 1}"
        label = label if len(label) <= 60 else label[:59] + "…"
        where = f"{p}: item {label}"
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: each item must be a mapping (got {type(entry).__name__}).")
        try:
            it = _Item.model_validate(entry)
        except ValidationError as exc:
            raise SpecError(_first_error(exc, where, list(_Item.model_fields))) from None
        if it.id in seen:
            raise SpecError(f"{where}: duplicate id {short_repr(it.id)}.")
        seen.add(it.id)
        tol = {k: v for k, v in (it.tolerance.model_dump() if it.tolerance else {}).items() if v is not None}
        items.append(
            Item(
                id=it.id,
                group=it.group,
                claim=it.claim,
                section=it.section,
                severity=Severity(it.severity),
                probe=it.probe,
                expected=it.expected,
                params=dict(it.params),
                tolerance=tol,
                variants=tuple(Variant(v.name, v.value, v.why) for v in it.variants),
                impact=it.impact,
                fix=it.fix,
                note=it.note,
            )
        )
    if not items:
        raise SpecError(f"{p}: the spec has no items.")
    spec = Spec(
        version=top.version,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        path=str(p),
        paper=top.paper.model_dump(),
        items=tuple(items),
    )
    return spec
