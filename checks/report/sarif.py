"""The audit as SARIF 2.1.0 (`--format sarif`, the plugin's `--paper-sarif`), for code scanning.

One run per target. Its tool's rules are the spec's items, each with its claim, paper section,
severity (the default level: major -> error, minor -> warning, info -> note) and help text that
holds the fix. One result per deviation and per error, at the finding's source location (the
others as related locations); a finding without one points at the target's model definition,
else at the target's file, so that code scanning (which wants a location on every result) takes it.
A waived deviation is a result with an accepted external suppression carrying the waiver's reason.
Rendered from the JSON report, so the same report gives the same bytes.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from ..spec.load import Item, Spec
from .locations import location_list

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"major": "error", "minor": "warning", "info": "note"}
_PROBLEM = {"major": "error", "minor": "warning", "info": "recommendation"}  # GitHub's problem.severity
_FILE = re.compile(r"^([^:\s]+\.(?:py|ya?ml|ipynb))(?::|$)")


def _rule(item: Item) -> dict[str, Any]:
    sev = item.severity.value
    text = f"{item.claim} (paper {item.section})"
    help_text = "\n\n".join(x for x in (f"The paper ({item.section}): {item.claim}",
                                        f"Why it matters: {item.impact}" if item.impact else "",
                                        f"Fix: {item.fix}" if item.fix else "") if x)
    return {
        "id": item.id,
        "shortDescription": {"text": item.claim},
        "fullDescription": {"text": text},
        "help": {"text": help_text, "markdown": help_text.replace("The paper (", "**The paper** (", 1)
                 .replace("Why it matters:", "**Why it matters**:").replace("Fix:", "**Fix**:")},
        "defaultConfiguration": {"level": LEVELS.get(sev, "warning")},
        "properties": {"tags": ["alexnet", item.group, sev], "section": item.section, "severity": sev,
                       "group": item.group, "problem.severity": _PROBLEM.get(sev, "warning")},
    }


def _physical(loc: dict[str, Any]) -> dict[str, Any]:
    return {"artifactLocation": {"uri": quote(str(loc["path"])), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": int(loc["line"])}}


def _fallback(target: dict[str, Any]) -> list[dict[str, Any]]:
    """Where a finding without its own location points: the model's definition, else the target's file."""
    own = location_list(target.get("location"))
    if own:
        return own[:1]
    m = _FILE.match(str(target.get("source") or ""))
    return [{"path": m.group(1), "line": 1}] if m and not m.group(1).startswith("/") else []


def _message(f: dict[str, Any]) -> str:
    text = " ".join(str(f.get("message") or "").split())
    if f["status"] == "error":
        return f"{f['id']} could not be checked: {text}"
    return text or f["id"]


def _result(f: dict[str, Any], index: dict[str, int], fallback: list[dict[str, Any]]) -> dict[str, Any]:
    sev = str(f.get("severity"))
    locs = location_list(f.get("location")) or fallback
    out: dict[str, Any] = {"ruleId": f["id"]}
    if f["id"] in index:
        out["ruleIndex"] = index[f["id"]]
    out["level"] = "error" if f["status"] == "error" else LEVELS.get(sev, "warning")
    out["message"] = {"text": _message(f)}
    if locs:
        out["locations"] = [{"physicalLocation": _physical(locs[0])}]
    if len(locs) > 1:
        out["relatedLocations"] = [{"id": n, "physicalLocation": _physical(loc),
                                    "message": {"text": f"{f['id']} here too"}} for n, loc in enumerate(locs[1:], 1)]
    if f.get("waived"):
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": " ".join(str(f["waived"]).split())}]
    props: dict[str, Any] = {"status": f["status"], "severity": sev}
    for key in ("expected", "observed", "where"):
        if f.get(key) not in (None, ""):
            props[key] = f[key]
    out["properties"] = props
    return out


def to_sarif(data: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The SARIF log of one JSON report (`report_to_dict`)."""
    target = data.get("target") or {}
    name = str(target.get("name") or "target")
    index = {it.id: n for n, it in enumerate(spec.items)}
    fallback = _fallback(target)
    results = [_result(f, index, fallback) for f in data.get("findings") or []
               if f.get("status") in ("deviation", "error")]
    summary = data.get("summary") or {}
    gate = summary.get("gate") or {}
    run_props: dict[str, Any] = {"target": name, "source": target.get("source", ""),
                                 "spec_version": (data.get("spec") or {}).get("version", spec.version),
                                 "fidelity_score": summary.get("fidelity_score")}
    if gate:
        run_props["gate"] = {"fail_on": gate.get("fail_on"), "passed": gate.get("passed"),
                             "failing": list(gate.get("failing") or [])}
    driver = {"name": "alexnet-audit", "version": str((data.get("environment") or {}).get("alexnet_audit", "")),
              "rules": [_rule(it) for it in spec.items]}
    if not driver["version"]:
        del driver["version"]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": driver},
        "automationDetails": {"id": f"alexnet-audit/{name}/"},
        "results": results,
        "properties": run_props,
    }]}


def sarif_dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
