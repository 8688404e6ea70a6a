"""A hand-written analysis of a target (Target.claims) held against what the audit measured.

Each claim is `id -> {"said": status, "quote": text}` (optionally "correction": the analyst's
note on it). The verdict per item:
- right: the analysis said what the audit measured (pass, variant or deviation);
- wrong: it said something else (calling an accepted variant a plain pass is wrong too: the net is
  not the paper's, only an allowed reading of it);
- missed: the audit found a deviation the analysis does not mention;
- unverified: the audit could not measure the item (skip or error);
- unknown item: the analysis names an id that is not in the spec.
"""
from __future__ import annotations

from typing import Any

VERDICTS = ("wrong", "missed", "right", "unverified", "unknown item")

_SYNONYMS = {
    "pass": "pass", "passes": "pass", "ok": "pass", "faithful": "pass", "correct": "pass", "matches": "pass",
    "match": "pass", "fine": "pass",
    "variant": "variant", "accepted": "variant", "accepted variant": "variant",
    "deviation": "deviation", "deviates": "deviation", "deviant": "deviation", "wrong": "deviation",
    "bug": "deviation", "differs": "deviation", "fail": "deviation", "fails": "deviation", "incorrect": "deviation",
    "skip": "skip", "error": "error",
}


def said_status(said: str | None) -> str | None:
    """The status a claim's free-form verdict stands for (None when it names none)."""
    return _SYNONYMS.get((said or "").strip().lower())


def review_claims(claims: dict[str, Any], findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per claim plus one per deviation the claims miss; worst news first, then spec order."""
    by_id = {f["id"]: f for f in findings}
    pos = {f["id"]: n for n, f in enumerate(findings)}
    rows: list[dict[str, Any]] = []
    for cid, claim in claims.items():
        claim = claim if isinstance(claim, dict) else {"said": str(claim)}
        said = str(claim.get("said", "") or "")
        quote = str(claim.get("quote", "") or "")
        f = by_id.get(cid)
        if f is None:
            verdict, measured = "unknown item", None
        else:
            measured = f["status"]
            if measured in ("skip", "error"):
                verdict = "unverified"
            else:
                verdict = "right" if said_status(said) == measured else "wrong"
        row = {"id": cid, "said": said, "quote": quote, "measured": measured, "verdict": verdict,
               "message": f.get("message", "") if f is not None else ""}
        if claim.get("correction"):
            row["correction"] = str(claim["correction"])
        rows.append(row)
    for f in findings:
        if f["status"] == "deviation" and f["id"] not in claims:
            rows.append({"id": f["id"], "said": None, "quote": "", "measured": "deviation", "verdict": "missed",
                         "message": f.get("message", "")})
    rank = {v: n for n, v in enumerate(VERDICTS)}
    rows.sort(key=lambda r: (rank[r["verdict"]], pos.get(r["id"], len(pos)), r["id"]))
    return rows
