"""survey.md and its figures, from the corpus totals (`table.Totals`).

Per item, the share of targets that pass, take an accepted variant, deviate, or could not be
measured (skip or error); the distribution of fidelity scores; the most common deviations, which
ones co-occur and the commonest sets; the targets ranked. Deterministic: the same totals give the
same markdown and the same PNG bytes (fixed geometry, no software or date metadata).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..core.files import write_atomic
from .table import Totals

FIGURES = ("survey-items.png", "survey-scores.png", "survey-cooccurrence.png")
COLOURS = {"pass": "#4caf50", "variant": "#ffc107", "deviation": "#e53935", "unmeasured": "#9e9e9e"}
TOP = 15  # deviations, pairs and sets listed
RANKED = 50  # targets listed at each end of the ranking (all of them when there are few)


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "-"


def _shares(t: Totals, item: str) -> dict[str, int]:
    c = t.items[item]
    return {"pass": c["pass"], "variant": c["variant"], "deviation": c["deviation"],
            "unmeasured": c["skip"] + c["error"]}


def _items_table(t: Totals) -> list[str]:
    lines = ["| item | severity | pass | variant | deviation | not measured |", "|---|---|--:|--:|--:|--:|"]
    for item in t.items:
        s, n = _shares(t, item), sum(t.items[item].values())
        lines.append(f"| `{item}` | {t.severity[item]} | {_pct(s['pass'], n)} | {_pct(s['variant'], n)} | "
                     f"{_pct(s['deviation'], n)} | {_pct(s['unmeasured'], n)} |")
    return lines


def _scores(t: Totals) -> list[str]:
    scored = sorted(s for s, _ in t.scores if s is not None)
    if not scored:
        return ["No target has a fidelity score (none could be measured)."]

    def q(p: float) -> float:
        return scored[min(len(scored) - 1, int(p * (len(scored) - 1) + 0.5))]

    unscored = len(t.scores) - len(scored)
    return ["| targets scored | min | 25% | median | 75% | max | mean |", "|--:|--:|--:|--:|--:|--:|--:|",
            f"| {len(scored)} | {scored[0]:.1f} | {q(.25):.1f} | {q(.5):.1f} | {q(.75):.1f} | {scored[-1]:.1f} | "
            f"{sum(scored) / len(scored):.1f} |", "",
            *([f"{unscored} target(s) have no score (nothing scored could be measured)."] if unscored else [])]


def _deviations(t: Totals) -> list[str]:
    if not t.deviations:
        return ["No target deviates on any item (derived deviations, which name their cause, are not counted)."]
    n = t.targets
    lines = ["| deviation | targets | share |", "|---|--:|--:|"]
    lines += [f"| `{item}` | {k} | {_pct(k, n)} |" for item, k in _top(t.deviations)]
    if t.pairs:
        lines += ["", "Deviations that occur together (targets with both; the share of the first item's "
                  "targets that also have the second):", "", "| first | second | targets | of first |",
                  "|---|---|--:|--:|"]
        lines += [f"| `{a}` | `{b}` | {k} | {_pct(k, t.deviations[a])} |" for (a, b), k in _top(t.pairs)]
    lines += ["", "The commonest sets of deviations (a target's primary deviations, exactly):", "",
              "| deviations | targets |", "|---|--:|"]
    lines += [f"| {', '.join(f'`{i}`' for i in s)} | {k} |" for s, k in _top(t.sets)]
    return lines


def _top(counter: Any) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


def _ranking(t: Totals) -> list[str]:
    ranked = sorted(t.scores, key=lambda sn: (-(sn[0] if sn[0] is not None else -1.0), sn[1]))
    lines = ["| rank | target | fidelity score |", "|--:|---|--:|"]
    shown = list(enumerate(ranked, 1))
    cut = len(shown) > 2 * RANKED
    for rank, (score, name) in shown[:RANKED] if cut else shown:
        lines.append(f"| {rank} | {name} | {'-' if score is None else f'{score:.1f}'} |")
    if cut:
        lines.append(f"| ... | {len(shown) - 2 * RANKED} more (survey.parquet has every target) | |")
        for rank, (score, name) in shown[-RANKED:]:
            lines.append(f"| {rank} | {name} | {'-' if score is None else f'{score:.1f}'} |")
    return lines


def markdown(t: Totals) -> str:
    """The corpus report."""
    errors = sum(t.errors.values())
    spec = t.spec
    lines = ["# Survey of a corpus", "",
             f"{t.targets} target(s) audited against spec {spec.get('version', '?')} "
             f"(sha256 `{str(spec.get('sha256', ''))[:12]}`); {errors} could not be audited.", "",
             "Files: `survey.parquet` and `survey.csv` (one row per target x item), `targets/` (each target's "
             "reports), the figures below.", "",
             "## Per item", "", "![per item](survey-items.png)", "", *_items_table(t), "",
             "## Fidelity scores", "", "![fidelity scores](survey-scores.png)", "", *_scores(t), "",
             "## Most common deviations", "", "![co-occurrence](survey-cooccurrence.png)", "", *_deviations(t), "",
             "## Targets ranked", "", *_ranking(t), ""]
    if t.errors:
        lines += ["## Targets that could not be audited", "", "| cause | targets |", "|---|--:|"]
        lines += [f"| {cause.replace('|', '/')} | {k} |" for cause, k in _top(t.errors)] + [""]
    return "\n".join(lines)


def _png(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return write_atomic(path, buf.getvalue())


def _items_figure(t: Totals, path: Path) -> Path:
    from matplotlib.figure import Figure

    items = list(t.items)
    fig = Figure(figsize=(9, 1.2 + 0.22 * max(1, len(items))))
    ax = fig.add_subplot(1, 1, 1)
    left = [0.0] * len(items)
    for status, colour in COLOURS.items():
        shares = [100.0 * _shares(t, i)[status] / max(1, sum(t.items[i].values())) for i in items]
        ax.barh(range(len(items)), shares, left=left, color=colour, label=status.replace("unmeasured", "not measured"))
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(range(len(items)), items, fontsize=7)
    ax.set_ylim(max(1, len(items)) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of targets")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.6 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    return _png(fig, path)


def _scores_figure(t: Totals, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.hist([s for s, _ in t.scores if s is not None], bins=[5.0 * b for b in range(21)], color="#1e88e5")
    ax.set_xlim(0, 100)
    ax.set_xlabel("fidelity score")
    ax.set_ylabel("targets")
    fig.subplots_adjust(left=0.12, right=0.97, top=0.95, bottom=0.15)
    return _png(fig, path)


def _cooccurrence_figure(t: Totals, path: Path) -> Path:
    from matplotlib.figure import Figure

    items = sorted(i for i, _ in _top(t.deviations))
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1)
    if not items:
        ax.text(0.5, 0.5, "no deviations", ha="center", va="center")
        ax.set_axis_off()
        return _png(fig, path)
    grid = [[t.deviations[a] if a == b else t.pairs[tuple(sorted((a, b)))] for b in items] for a in items]
    ax.imshow(grid, cmap="Reds")
    for r, row in enumerate(grid):
        for c, k in enumerate(row):
            ax.text(c, r, str(k), ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(items)), items, rotation=90, fontsize=7)
    ax.set_yticks(range(len(items)), items, fontsize=7)
    fig.subplots_adjust(left=0.3, right=0.97, top=0.97, bottom=0.3)
    return _png(fig, path)


def write(t: Totals, out: Path) -> list[Path]:
    """survey.md and the figures it shows."""
    figures = [_items_figure(t, out / FIGURES[0]), _scores_figure(t, out / FIGURES[1]),
               _cooccurrence_figure(t, out / FIGURES[2])]
    return [write_atomic(out / "survey.md", markdown(t)), *figures]
