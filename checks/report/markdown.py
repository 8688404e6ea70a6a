"""The per-target markdown report, rendered from the JSON report dict and the spec.

Layout: header, verdict, one table per spec group, one block per deviation and per accepted
variant (paper statement, evidence, why it matters, fix), what could not be checked, the per-layer
table, target notes, and (when the target carries a hand-written analysis) how that analysis
compares with the measurements. Every item has exactly one stable anchor, `anchor(id)`.
"""
from __future__ import annotations

import re
from typing import Any

from ..spec.load import GROUPS, Item, Spec
from .claims import review_claims
from .layer_table import layer_rows_markdown
from .locations import Links, location_list, show_location
from .tables import md_table
from .values import cell, code, show

SYMBOLS = {"pass": "✅", "variant": "🟡", "deviation": "❌", "skip": "⏭", "error": "💥"}
GROUP_TITLES = {
    "architecture": "Architecture",
    "normalisation": "Local response normalisation",
    "pooling": "Pooling",
    "dropout": "Dropout",
    "init": "Initialisation",
    "training": "Training",
    "data": "Data",
    "evaluation": "Evaluation",
    "context": "Context",
}
VERDICT_LABELS = {"right": "✅ right", "wrong": "❌ wrong", "missed": "⚠️ missed", "unverified": "⏭ unverified",
                  "unknown item": "❔ unknown item"}
CELL = 90  # characters in a table cell before truncation (the item's block has the full value)
LIST = 8  # list entries shown in a table cell


def anchor(item_id: str) -> str:
    """Stable HTML anchor for an item id: `lrn.alpha` -> `lrn-alpha`."""
    return re.sub(r"[^a-z0-9_-]+", "-", item_id.lower()).strip("-") or "item"


def status_label(f: dict[str, Any], severity: bool = True) -> str:
    s = f["status"]
    text = f"{SYMBOLS.get(s, '?')} {s}"
    if severity and s in ("deviation", "variant", "error"):
        text += f" · {f['severity']}"
    if f.get("waived"):
        text += " · waived"
    return text


def _item(spec: Spec, item_id: str) -> Item | None:
    try:
        return spec.item(item_id)
    except KeyError:
        return None


def _tolerance(item: Item | None) -> str:
    if item is None or not item.tolerance:
        return ""
    return " (tolerance " + ", ".join(f"{k} {v:g}" for k, v in sorted(item.tolerance.items())) + ")"


def _link(item_id: str) -> str:
    return f"[{item_id}](#{anchor(item_id)})"


# ------------------------------------------------------------------ sections -------------------

def _locations(value: Any, links: Links | None) -> str:
    """A `location` as markdown: `path:line`, linked when the report sits in the tree (`Links`)."""
    locs = location_list(value)
    return ", ".join(links.render(x) if links is not None else f"`{show_location(x)}`" for x in locs)


def _header(d: dict[str, Any], spec: Spec, links: Links | None = None) -> list[str]:
    t, env, sp = d["target"], d["environment"], d["spec"]
    size = t.get("input_size") or []
    size_txt = "×".join(str(x) for x in size) if size else "unknown"
    classes = t.get("num_classes")
    recipe = t.get("recipe") or []
    declared = t.get("declared") or []
    recipe_txt = ", ".join(recipe) if recipe else "none given (recipe items are skipped)"
    if declared:
        recipe_txt += f"; declared, not measured: {', '.join(declared)}"
    paper = spec.paper or {}
    paper_txt = f"{paper.get('authors', '')}, “{paper.get('title', '')}”, {paper.get('venue', '')}".strip(", ")
    if paper.get("url"):
        paper_txt = f"[{paper_txt}]({paper['url']})"
    defined = [["Defined at", _locations(t["location"], links)]] if location_list(t.get("location")) else []
    return [
        f"# AlexNet fidelity report: {t.get('name', '?')}",
        "",
        *md_table(["", ""], [
            ["Target", f"{code(t.get('name', '?'))} from {code(t.get('source', '?'))}"],
            *defined,
            ["Input", f"{size_txt}, {str(classes) + ' classes' if classes else 'class count read from the model'}"],
            ["Recipe", cell(recipe_txt)],
            ["Spec", f"`paper_spec.yaml` {sp['version']} (sha256 `{sp['sha256'][:12]}`)"],
            ["Paper", cell(paper_txt)],
            ["Environment", _environment(env)],
        ]),
        "",
    ]


def _environment(env: dict[str, Any]) -> str:
    tool = f"alexnet-audit {env['alexnet_audit']}, " if env.get("alexnet_audit") else ""
    sandbox = f"; sandbox: {env['sandbox']}" if env.get("sandbox") else ""
    return f"{tool}torch {env['torch']}, torchvision {env['torchvision']}, Python {env['python']}{sandbox}"


def verdict_lines(d: dict[str, Any]) -> list[str]:
    """The report's `## Verdict` block (also the head of a CI job summary)."""
    s = d["summary"]
    c, devs = s["counts"], s["deviations_by_severity"]
    score = s["fidelity_score"]
    score_txt = f"{score:.1f} / 100" if score is not None else "n/a (nothing could be measured)"
    out = [
        "## Verdict",
        "",
        f"**Fidelity score: {score_txt}**: the severity-weighted share (major 3, minor 1, info 0) of the "
        "measured items that pass or are accepted variants; skips and errors are not measured, and a derived "
        "deviation that names its cause is not charged again "
        f"(measured weight: {s['fidelity_coverage'] if s['fidelity_coverage'] is not None else 0:g}% of the total). "
        "Definitions: README, “Statuses, severities and the fidelity score”.",
        "",
        *md_table(["✅ pass", "🟡 variant", "❌ deviation", "⏭ skip", "💥 error", "items"],
                  [[c.get("pass", 0), c.get("variant", 0), c.get("deviation", 0), c.get("skip", 0), c.get("error", 0),
                    s["items"]]], ["right"] * 6),
        "",
        f"Deviations by severity: **{devs.get('major', 0)} major**, {devs.get('minor', 0)} minor, "
        f"{devs.get('info', 0)} info.",
        "",
    ]
    dev_ids = [f for f in d["findings"] if f["status"] == "deviation"]
    if dev_ids:
        out += ["Deviations: " + ", ".join(f"{_link(f['id'])} ({f['severity']})" for f in dev_ids) + ".", ""]
    g = s.get("gate")
    if g is None:
        out += ["**Gate**: not evaluated.", ""]
    else:
        if g["fail_on"] == "never":
            mark = "report only: nothing gates at this threshold (use `--fail-on minor` or `major` to gate)"
        else:
            mark = "✅ passes" if g["passed"] else "❌ fails"
        line = f"**Gate** (`--fail-on {g['fail_on']}`): {mark}"
        if g["failing"]:
            line += f"; {len(g['failing'])} blocking: " + ", ".join(_link(i) for i in g["failing"])
        if g.get("require_explained") and not (s.get("explained") or {}).get("ok"):
            line += "; `--require-explained`: the measurements do not explain the model (see below)"
        out += [line + ".", ""]
        for wid, reason in (g.get("waived") or {}).items():
            out.append(f"- waived {_link(wid)}: {cell(show(reason))}")
        if g.get("waived"):
            out.append("")
    return out


def _explained(d: dict[str, Any]) -> list[str]:
    """Whether the measurements rebuild the model (summary.explained; trace/rebuild)."""
    e = d["summary"].get("explained")
    if not isinstance(e, dict):
        return []
    err = e.get("max_rel_error")
    err_txt = f"max relative error {err}" if err is not None else "no output compared"
    if e.get("ok"):
        return [f"**Explained**: ✅ The measurements reproduce the model's outputs ({err_txt}): a network rebuilt "
                "from them alone, with the target's weights, computes what the target computes on a fresh input.",
                ""]
    div = e.get("first_divergence") or {}
    opaque = [str(o) for o in e.get("opaque") or []]
    if div:
        where = f" ({code(div['where'])})" if div.get("where") else ""
        head = (f"**Explained**: ❌ The measurements stop reproducing the model at **{div.get('at')}**{where}: "
                f"{cell(show(div.get('reason')))}.")
    else:
        head = ("**Explained**: ❌ The outputs are reproduced only by replaying what the audit could classify only "
                f"as `other`: {', '.join(code(o) for o in opaque)}.")
    tail = (" The structural verdicts from there on rest on an incomplete measurement; those findings carry "
            "`explained: false`.")
    if div and opaque:
        tail += f" Replayed, not explained: {', '.join(code(o) for o in opaque)}."
    return [head + tail, ""]


def _group_tables(d: dict[str, Any], spec: Spec) -> list[str]:
    out = ["## Findings by section", ""]
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in d["findings"]:
        groups.setdefault(f.get("group") or "other", []).append(f)
    order = [g for g in GROUPS if g in groups] + sorted(g for g in groups if g not in GROUPS)
    for g in order:
        rows = []
        for f in groups[g]:
            item = _item(spec, f["id"])
            ident = f"<a id=\"{anchor(f['id'])}\"></a>`{f['id']}`" if f["status"] == "pass" else _link(f["id"])
            observed = show(f["observed"], LIST) if f["status"] not in ("skip", "error") else "—"
            rows.append([ident, cell(item.claim if item else "", CELL), cell(show(f["expected"], LIST), CELL),
                         cell(observed, CELL), status_label(f), cell(f.get("section") or "")])
        out += [f"### {GROUP_TITLES.get(g, g.capitalize())}", "",
                *md_table(["id", "claim", "expected", "observed", "status", "paper"], rows), ""]
    return out


def _block(f: dict[str, Any], item: Item | None, links: Links | None = None) -> list[str]:
    title = item.claim if item else f["id"]
    out = [f"### <a id=\"{anchor(f['id'])}\"></a>{f['id']} · {status_label(f)}", ""]
    out.append(f"- **The paper** ({f.get('section') or 'no section'}): {title}")
    out.append(f"- **Expected**: {code(show(f['expected']))}{_tolerance(item)}")
    out.append(f"- **Observed**: {code(show(f['observed']))}")
    out.append(f"- **Evidence**: {' '.join(str(f.get('message', '')).split())}")
    if f.get("evidence"):
        out.append(f"  {' '.join(str(f['evidence']).split())}")
    if f.get("where"):
        out.append(f"- **Where**: {code(f['where'])}")
    if location_list(f.get("location")):
        out.append(f"- **Location**: {_locations(f['location'], links)}")
    if f.get("caused_by"):
        causes = ", ".join(_link(str(c)) for c in f["caused_by"])
        them = "them" if len(f["caused_by"]) > 1 else "it"
        out.append(f"- **Caused by**: {causes}; this derived count or size follows from {them}, and the fidelity "
                   "score counts that defect once")
    if f["status"] == "variant":
        why = ""
        if item is not None:
            for v in item.variants:
                if v.name == f.get("variant"):
                    why = v.why
        out.append(f"- **Accepted reading**: *{f.get('variant') or '?'}*" + (f": {why}" if why else ""))
        fix = item.fix if item and item.fix else "see the claim above."
        out.append(f"- **To match the printed paper exactly**: {fix}")
    else:
        impact = item.impact if item and item.impact else _default_impact(f)
        out.append(f"- **Why it matters**: {impact}")
        out.append(f"- **Fix**: {item.fix if item and item.fix else 'see the claim above.'}")
    if f.get("waived"):
        out.append(f"- **Waived**: {' '.join(str(f['waived']).split())}")
    if item is not None and item.note:
        out.append(f"- **Note**: {item.note}")
    out.append("")
    return out


def _default_impact(f: dict[str, Any]) -> str:
    return {
        "major": "The paper gives no ablation figure for this item; it is major because it changes the function "
                 "the network computes or its training dynamics.",
        "minor": "The paper gives no ablation figure for this item; it is minor: a bounded effect on the function "
                 "or the training.",
        "info": "Context only; it never gates.",
    }.get(f["severity"], "")


def _details(d: dict[str, Any], spec: Spec, links: Links | None = None) -> list[str]:
    out: list[str] = []
    devs = [f for f in d["findings"] if f["status"] == "deviation"]
    vars_ = [f for f in d["findings"] if f["status"] == "variant"]
    if devs:
        out += ["## Deviations, and how to fix them", ""]
        for f in devs:
            out += _block(f, _item(spec, f["id"]), links)
    if vars_:
        out += ["## Accepted variants", "",
                "These differ from the paper's text in a way its own ambiguity allows; they do not lower the score.",
                ""]
        for f in vars_:
            out += _block(f, _item(spec, f["id"]), links)
    covered = [f for f in d["findings"] if f["status"] == "pass" and f.get("covered_by")]
    if covered:
        out += ["## Passed, with differences other items report", "",
                "One defect, one deviation: these differences are counted once, on the items named.", ""]
        for f in covered:
            out.append(f"- {_link(f['id'])}: {' '.join(str(f.get('message', '')).split())}")
        out.append("")
    return out


def _unchecked(d: dict[str, Any]) -> list[str]:
    rows = [f for f in d["findings"] if f["status"] in ("skip", "error")]
    out = ["## What could not be checked", ""]
    if not rows:
        return out + ["Every item was measured.", ""]
    out += md_table(["id", "status", "reason"],
                    [[f"<a id=\"{anchor(f['id'])}\"></a>`{f['id']}`", status_label(f), cell(f.get("message", ""))]
                     for f in rows])
    return out + [""]


def _notes(d: dict[str, Any]) -> list[str]:
    notes = d["target"].get("notes") or []
    if not notes:
        return []
    return ["## Target notes", "", *[f"- {' '.join(str(n).split())}" for n in notes], ""]


def _run_notes(d: dict[str, Any]) -> list[str]:
    """What happened around the measurement: the target's own output, threads it left running."""
    notes = d.get("run_notes") or []
    if not notes:
        return []
    return ["## Notes on this run", "", *[f"- {' '.join(str(n).split())}" for n in notes], ""]


def _claims(d: dict[str, Any]) -> list[str]:
    claims = d["target"].get("claims")
    if not claims:
        return []
    rows = d.get("claims_review") or review_claims(claims, d["findings"])
    n = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICT_LABELS}
    out = ["## What the seed analysis got right and what it got wrong", "",
           f"This target ships a hand-written analysis ({len(claims)} statements). Held against what this audit "
           f"measured: **{n['right']} right**, **{n['wrong']} wrong**, **{n['missed']} missed** (deviations the "
           f"analysis does not mention), {n['unverified']} could not be verified"
           + (f", {n['unknown item']} name no spec item" if n["unknown item"] else "") + ".",
           ""]
    table: list[list[str]] = []
    for r in rows:
        said = r["said"] if r["said"] is not None else "— (not mentioned)"
        quote = f"“{r['quote']}”" if r["quote"] else ""
        measured = f"{SYMBOLS.get(r['measured'], '')} {r['measured']}" if r["measured"] else "—"
        ident = _link(r["id"]) if r["verdict"] != "unknown item" else code(r["id"])
        detail = ""
        if r["verdict"] != "right":
            detail = " ".join(x for x in (r.get("message") or "", r.get("correction") or "") if x)
        table.append([ident, cell(said), cell(quote, 160), measured, VERDICT_LABELS[r["verdict"]], cell(detail, 240)])
    out += md_table(["item", "the analysis said", "quote", "measured", "verdict", "what was measured"], table)
    return out + [""]


def render(d: dict[str, Any], spec: Spec, links: Links | None = None) -> str:
    """The markdown report of the JSON report `d`; `links` makes its source locations links."""
    lines = [
        *_header(d, spec, links),
        *verdict_lines(d),
        *_explained(d),
        *_group_tables(d, spec),
        *_details(d, spec, links),
        *_unchecked(d),
        *layer_rows_markdown(d.get("layers") or [], d.get("layers_error")),
        *_notes(d),
        *_run_notes(d),
        *_claims(d),
        "---",
        "",
        "Generated by `alexnet-audit` from the spec above; statuses, severities and the fidelity score are defined "
        "in the project README.",
        "",
    ]
    return "\n".join(lines)
