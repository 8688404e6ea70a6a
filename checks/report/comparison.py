"""The cross-target comparison: `comparison.md`, `comparison.json` and the heatmap `comparison.png`.

Input: one JSON report dict per target (`report_to_dict` output, or the parsed `<name>.json`), in
the order the targets were given. A target that could not be audited is a report whose findings
are all `error`; it becomes an error column like any other.
"""
from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.files import atomic_path, write_atomic
from ..spec.load import GROUPS
from ..target.refs import COMPARISON_STEM, report_stems
from .document import dumps, summarise
from .frame import write_csv
from .layer_table import MAC_CONVENTION
from .markdown import GROUP_TITLES, SYMBOLS, anchor
from .tables import md_table
from .values import cell, fmt_macs, normalise

FORMAT = "alexnet-audit/comparison@1"
COMPARISON_FILES = tuple(f"{COMPARISON_STEM}.{ext}" for ext in ("md", "json", "png", "csv"))
COLOURS = {  # heatmap colours per status (colour-blind-safe Okabe-Ito tones)
    "pass": "#009E73",
    "variant": "#F0E442",
    "deviation": "#D55E00",
    "skip": "#BBBBBB",
    "error": "#5A2A82",
    "missing": "#FFFFFF",
}
LEGEND = ("✅ pass · 🟡 accepted variant · ❌ deviation · ⏭ skip (not observable on this target) · "
          "💥 error (probe or target failed) · blank: item not in that target's report")


def _name(r: dict[str, Any]) -> str:
    return str((r.get("target") or {}).get("name") or "?")


def _items(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union of the items of all reports, in the first report's (spec) order."""
    seen: dict[str, dict[str, Any]] = {}
    for r in results:
        for f in r.get("findings") or []:
            if f["id"] not in seen:
                seen[f["id"]] = {"id": f["id"], "group": f.get("group") or "other", "severity": f.get("severity")}
    return list(seen.values())


def _summary(r: dict[str, Any], stem: str) -> dict[str, Any]:
    findings = r.get("findings") or []
    gate = (r.get("summary") or {}).get("gate")
    summary = summarise(findings, gate)
    return {
        "name": _name(r),
        "source": (r.get("target") or {}).get("source"),
        "file": stem + ".md",
        "fidelity_score": summary["fidelity_score"],
        "counts": summary["counts"],
        "deviations_by_severity": summary["deviations_by_severity"],
        "gate_passed": None if gate is None else bool(gate.get("passed")),
        "gate_fail_on": None if gate is None else gate.get("fail_on"),
        "error": next((f.get("message") for f in findings if f["status"] == "error"), None),
    }


def _layer_names(results: list[dict[str, Any]]) -> list[str]:
    names: set[str] = set()
    for r in results:
        names.update(row["layer"] for row in r.get("layers") or [])

    def key(n: str) -> tuple[int, int, str]:
        kind = 0 if n.startswith("conv") else 1 if n.startswith("fc") else 2
        digits = "".join(ch for ch in n if ch.isdigit())
        return (kind, int(digits) if digits else 0, n)

    return sorted(names, key=key)


def _layers(results: list[dict[str, Any]]) -> dict[str, Any]:
    names = _layer_names(results)
    paper: dict[str, dict[str, Any]] = {}
    per_target = []
    for r in results:
        rows = {row["layer"]: row for row in r.get("layers") or []}
        for n, row in rows.items():
            for k in ("paper_params", "paper_macs"):
                if row.get(k) is not None:
                    paper.setdefault(n, {}).setdefault(k[6:], row[k])
        per_target.append({n: {"params": rows[n].get("params"), "macs": rows[n].get("macs")}
                           for n in names if n in rows})
    return {"layers": names, "paper": {n: paper.get(n, {}) for n in names}, "targets": per_target}


def comparison_dict(results: list[dict[str, Any]], stems: Sequence[str] | None = None) -> dict[str, Any]:
    """The comparison's data; `stems` are the targets' report file stems (default: `report_stems` of the names)."""
    results = [normalise(r) for r in results]
    stems = list(stems) if stems is not None else report_stems([_name(r) for r in results])
    if len(stems) != len(results):
        raise ValueError(f"{len(stems)} file stems for {len(results)} reports")
    items = _items(results)
    status = [{f["id"]: f["status"] for f in r.get("findings") or []} for r in results]
    spec = next((r["spec"] for r in results if r.get("spec")), None)
    return {
        "format": FORMAT,
        "spec": spec,
        "targets": [_summary(r, stem) for r, stem in zip(results, stems, strict=True)],
        "items": [{**it, "statuses": [s.get(it["id"]) for s in status]} for it in items],
        "layers": _layers(results),
    }


# ------------------------------------------------------------------ markdown -------------------

def _fmt_params(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "—"


def _layer_table(c: dict[str, Any], key: str, fmt: Callable[[Any], str], title: str) -> list[str]:
    lay = c["layers"]
    names = [t["name"] for t in c["targets"]]
    if not lay["layers"]:
        return []
    rows: list[list[str]] = []
    totals: list[float] = [0] * len(names)
    complete = [bool(t) for t in lay["targets"]]
    ptotal: float = 0
    pcomplete = True
    for layer in lay["layers"]:
        p = lay["paper"].get(layer, {}).get(key)
        if isinstance(p, int | float):
            ptotal += p
        else:
            pcomplete = False
        row = [layer, fmt(p)]
        for i, t in enumerate(lay["targets"]):
            v = (t.get(layer) or {}).get(key)
            if isinstance(v, int | float):
                totals[i] += v
            else:
                complete[i] = False
            text = fmt(v)
            row.append(f"**{text}**" if isinstance(v, int | float) and isinstance(p, int | float) and v != p else text)
        rows.append(row)
    tot = ["**total**", fmt(ptotal) if pcomplete else "—"]
    tot += [fmt(totals[i]) if complete[i] else "—" for i in range(len(names))]
    rows.append(tot)
    headers = ["layer", "paper", *(cell(n) for n in names)]
    return [f"### {title}", "", *md_table(headers, rows, ["left"] + ["right"] * (len(names) + 1)), ""]


def render(c: dict[str, Any], png: str | None = None) -> str:
    targets = c["targets"]
    names = [t["name"] for t in targets]
    out = ["# AlexNet fidelity: comparison", ""]
    if c.get("spec"):
        out += [f"Spec `paper_spec.yaml` {c['spec']['version']} (sha256 `{c['spec']['sha256'][:12]}`); "
                "per-target details in the linked reports.", ""]
    if not targets:
        return "\n".join(out + ["No targets.", ""])
    out += ["## Summary", "",
            "Fidelity score: severity-weighted share (major 3, minor 1, info 0) of measured items that pass or are "
            "accepted variants, 0-100; skips and errors are not measured (README, “Statuses, severities and the "
            "fidelity score”).", ""]
    summary: list[list[Any]] = []
    for t in targets:
        n, d = t["counts"], t["deviations_by_severity"]
        score = f"{t['fidelity_score']:.1f}" if t["fidelity_score"] is not None else "n/a"
        if t["gate_passed"] is None:
            gate = "—"
        elif t["gate_fail_on"] == "never":
            gate = "report only"  # `--fail-on never`: nothing gates, so "passes" would mislead
        else:
            gate = f"{'passes' if t['gate_passed'] else 'fails'} (fail-on {t['gate_fail_on']})"
        summary.append([f"[{cell(t['name'])}]({t['file']})", score, n["pass"], n["variant"], d["major"], d["minor"],
                        d["info"], n["skip"], n["error"], gate])
    out += md_table(["target", "fidelity", "✅ pass", "🟡 variant", "❌ major", "❌ minor", "❌ info", "⏭ skip",
                     "💥 error", "gate"], summary, ["left"] + ["right"] * 8 + ["left"])
    out.append("")
    broken = [t for t in targets if t["counts"]["error"] and t["counts"]["error"] == sum(t["counts"].values())]
    for t in broken:
        out.append(f"**{cell(t['name'])} could not be audited**: {cell(t.get('error') or 'every item errored')}")
    if broken:
        out.append("")
    if png:
        out += ["## Heatmap", "", f"![status of every item on every target]({png})", ""]
    out += ["## Item matrix", "", LEGEND + ". A symbol links to the item in that target's report.", ""]
    matrix: list[list[str]] = []
    by_group: dict[str, list[dict[str, Any]]] = {}
    for it in c["items"]:
        by_group.setdefault(it["group"], []).append(it)
    order = [g for g in GROUPS if g in by_group] + sorted(g for g in by_group if g not in GROUPS)
    for g in order:
        matrix.append([f"**{GROUP_TITLES.get(g, g.capitalize())}**", ""] + [""] * len(names))
        for it in by_group[g]:
            cells = []
            for t, s in zip(targets, it["statuses"], strict=True):
                cells.append(f"[{SYMBOLS[s]}]({t['file']}#{anchor(it['id'])})" if s in SYMBOLS else "")
            matrix.append([f"`{it['id']}`", it["severity"], *cells])
    out += md_table(["item", "severity", *(cell(n) for n in names)], matrix,
                    ["left", "left"] + ["center"] * len(names))
    out.append("")
    layer_md = (_layer_table(c, "params", _fmt_params, "Parameters (weights + biases)")
                + _layer_table(c, "macs", fmt_macs, "Multiply-accumulates"))
    if layer_md:
        out += ["## Parameters and multiply-accumulates per layer", "",
                f"{MAC_CONVENTION}. Values that differ from the paper's are in bold; the paper's MACs are derived "
                "from the spec's per-layer parameters, neurons and map sizes.", "", *layer_md]
    return "\n".join(out)


# ------------------------------------------------------------------ heatmap --------------------

def write_heatmap(c: dict[str, Any], path: Path) -> Path:
    """A deterministic PNG of the matrix: fixed geometry per size, no software/date metadata."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    keys = list(COLOURS)
    code = {k: i for i, k in enumerate(keys)}
    items = c["items"]
    names = [t["name"] for t in c["targets"]]
    grid = [[code.get(s or "missing", code["missing"]) for s in it["statuses"]] for it in items] or [[code["missing"]]]
    left, right, top, bottom = 2.2, 1.4, 0.5, 1.1  # margins in inches: ids, legend, title, names
    height = top + bottom + 0.19 * max(len(items), 1)
    width = left + right + 0.8 * max(len(names), 1)
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    box = (left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height)
    ax = fig.add_axes(box)
    cmap = ListedColormap([COLOURS[k] for k in keys])
    ax.imshow(grid, cmap=cmap, norm=BoundaryNorm(range(len(keys) + 1), cmap.N), aspect="auto",
              interpolation="nearest")
    ax.set_xticks(range(len(names)), labels=names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(items)), labels=[it["id"] for it in items], fontsize=6.5)
    ax.set_xticks([x - 0.5 for x in range(1, len(names))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(items))], minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.set_title("Status per item and target", fontsize=9)
    fig.legend(handles=[Patch(facecolor=COLOURS[k], edgecolor="#666666", label=k) for k in keys[:-1]],
               loc="upper left", bbox_to_anchor=(box[0] + box[2] + 0.1 / width, box[1] + box[3]),
               fontsize=7, frameon=False)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a name in a script the font lacks is drawn as boxes, not worth a warning
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, buf.getvalue())


def write_comparison(results: list[dict[str, Any]], out_dir: str | Path,
                     stems: Sequence[str] | None = None) -> list[Path]:
    """Write comparison.md, .json, .csv (one row per target x item) and .png into `out_dir`; return their paths.

    `stems` name the targets' report files the comparison links to (as compare wrote them);
    each file is replaced atomically.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = comparison_dict([json.loads(json.dumps(normalise(r), allow_nan=False)) for r in results], stems)
    md, js, png_path, csv_path = (out / name for name in COMPARISON_FILES)
    png = write_heatmap(c, png_path)
    write_atomic(md, render(c, png.name))
    write_atomic(js, dumps(c))
    with atomic_path(csv_path) as tmp:
        write_csv([normalise(r) for r in results], tmp)
    return [md, js, png, csv_path]
