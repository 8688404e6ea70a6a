"""What a smoke result becomes for people: one summary line, JSON, a markdown section, a loss plot."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.files import write_atomic
from .verdict import FALL_RATIO, INIT_LOSS_MARGIN


def slug(text: str) -> str:
    """A file-name-safe form of a target name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "target"


def summary_line(r: Mapping[str, Any]) -> str:
    ips = r["images_per_second"]
    flops = r["flops_per_image"]
    return (f"smoke {r['target']} on {r['device']}, {r['dtype']}: "
            f"loss {r['initial_loss']:.3f} -> {r['final_loss']:.3f} "
            f"(ln {round(math.exp(r['ln_num_classes']))} = {r['ln_num_classes']:.3f}) in {r['steps']} steps at batch "
            f"{r['batch_size']}; {ips if ips is not None else 'n/a'} images/s; "
            f"{flops / 1e9:.3f} GFLOP/image (forward); verdict {r['verdict']}")


def write_json(result: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(result, indent=2, sort_keys=False) + "\n")  # never a half-written result


def plot_curve(result: Mapping[str, Any], path: Path) -> None:
    """The loss per step against ln C and the bounds the judge uses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["loss_curve"]
    ln_c = result["ln_num_classes"]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.plot(range(len(curve)), curve, marker="o", markersize=3, label="loss (fixed batch)")
    ax.axhline(ln_c, color="grey", linestyle="--", linewidth=1, label=f"ln C = {ln_c:.2f}")
    ax.axhline(ln_c + INIT_LOSS_MARGIN, color="red", linestyle=":", linewidth=1, label="ln C + 2")
    if curve and curve[0] is not None and math.isfinite(curve[0]):
        ax.axhline(FALL_RATIO * min(curve[0], ln_c), color="green", linestyle=":", linewidth=1,
                   label=f"fall bound (tail mean below {FALL_RATIO:g} x min(initial, ln C))")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"smoke {result['target']}: {result['device']}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def markdown(result: Mapping[str, Any], image: str | None) -> str:
    """A report section: the measured fields as a table, problems, notes and the plot."""
    r = result

    def fmt(v: Any) -> str:
        return "n/a" if v is None else str(v)

    mem = r["peak_memory_bytes"]
    rows = [
        ("device", r["device"]),
        ("dtype", r["dtype"]),
        ("steps / batch size", f"{r['steps']} / {r['batch_size']}"),
        ("initial loss (ln C)", f"{r['initial_loss']} ({r['ln_num_classes']})"),
        ("final loss", r["final_loss"]),
        ("loss falls", r["loss_falls"]),
        ("params without grad", r["params_without_grad"]),
        ("non-finite", r["nonfinite"]),
        ("images/s", fmt(r["images_per_second"])),
        ("peak memory", "n/a" if mem is None else f"{mem / 2**20:.1f} MiB"),
        ("FLOPs/image (forward)", f"{r['flops_per_image'] / 1e9:.3f} G"),
        ("achieved TFLOP/s (3x fwd)", fmt(r["achieved_tflops"])),
        ("share of peak", fmt(r["peak_share"])),
        ("optimizer", r["recipe"]["optimizer"]),
        ("lr (scale)", f"{r['recipe']['lr']} (x{r['recipe']['lr_scale']})"),
        ("scheduler", fmt(r["recipe"]["scheduler"])),
        ("loss fn", r["recipe"]["loss"]),
        ("versions", ", ".join(f"{k} {v}" for k, v in r["versions"].items())),
    ]
    lines = [f"## Smoke run: {r['target']}", "", f"Verdict: **{r['verdict']}**", ""]
    lines += ["| field | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]
    if r["problems"]:
        lines += ["Problems:", ""] + [f"- {p}" for p in r["problems"]] + [""]
    if r["notes"]:
        lines += ["Notes:", ""] + [f"- {n}" for n in r["notes"]] + [""]
    if image:
        lines += [f"![loss curve]({image})", ""]
    return "\n".join(lines)


def write_markdown(result: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """smoke-<target>.md and its loss curve smoke-<target>.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = f"smoke-{slug(result['target'])}"
    png = out_dir / f"{base}.png"
    plot_curve(result, png)
    md = out_dir / f"{base}.md"
    write_atomic(md, markdown(result, png.name))
    return [md, png]
