"""The per-layer table of a report (shapes, parameters, MACs beside the paper's), as markdown lines."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .tables import md_table
from .values import cell, code, fmt_macs

MAC_CONVENTION = ("MACs = FLOPs/2 as counted by `torch.utils.flop_counter`, forward pass, batch 1 "
                  "(bias additions, activations, normalisation and pooling not counted)")


def fmt_int(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "—"


def _cmp(observed: Any, paper: Any, fmt: Callable[[Any], str]) -> str:
    text = fmt(observed)
    if isinstance(observed, int | float) and isinstance(paper, int | float) and observed != paper:
        return f"**{text}**"
    return text


def layer_rows_markdown(layers: list[dict[str, Any]], error: str | None = None) -> list[str]:
    out = ["## Per-layer table", ""]
    if error:
        out += [f"The per-layer table could not be built: {cell(error)}", ""]
    if not layers:
        return out + (["No layers were traced."] if not error else []) + [""]
    out += [f"{MAC_CONVENTION}. Paper values come from `paper_spec.yaml` (arch.params_per_layer, arch.neurons; "
            "paper MACs derived from those and arch.feature_maps); values that differ from the paper are in bold.",
            ""]
    rows: list[list[str]] = []
    tot = {"params": 0, "paper_params": 0, "macs": 0, "paper_macs": 0}
    complete = dict.fromkeys(tot, True)
    shape_based = False
    for r in layers:
        for k in tot:
            if isinstance(r.get(k), int | float):
                tot[k] += r[k]
            else:
                complete[k] = False
        mods = ", ".join(code(m) for m in r.get("modules") or []) or "—"
        shape = "×".join(str(x) for x in r.get("output_shape") or []) or "—"
        mark = ""
        if r.get("macs_source") == "shape":
            mark, shape_based = " †", True
        rows.append([str(r.get("layer")), mods, shape, _cmp(r.get("neurons"), r.get("paper_neurons"), fmt_int),
                     fmt_int(r.get("paper_neurons")), _cmp(r.get("params"), r.get("paper_params"), fmt_int),
                     fmt_int(r.get("paper_params")), _cmp(r.get("macs"), r.get("paper_macs"), fmt_macs) + mark,
                     fmt_macs(r.get("paper_macs"))])

    def total(k: str, fmt: Callable[[Any], str]) -> str:
        return fmt(tot[k]) if complete[k] else fmt(tot[k]) + " (partial)"

    rows.append(["**total**", "", "", "", "", total("params", fmt_int), total("paper_params", fmt_int),
                 total("macs", fmt_macs), total("paper_macs", fmt_macs)])
    out += md_table(["layer", "module", "output", "neurons", "paper neurons", "params", "paper params", "MACs",
                     "paper MACs"], rows, ["left"] * 3 + ["right"] * 6)
    out.append("")
    if shape_based:
        out += ["† computed from the layer's shape: the layer ran as a functional call that the flop counter "
                "could not attribute to its own module.", ""]
    return out
