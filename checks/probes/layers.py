"""The per-layer table of a report: shapes, parameters and multiply-accumulates against the paper.

`layer_table(ctx)` takes the paper layers found by the trace (conv1..conv5, fc6..fc8, and any
extra layers as conv6.../fc9...) and gives, per layer: the module path(s), the output shape
(without the batch dimension), neurons, parameters and MACs, with the paper's values beside them.

Convention: MACs = FLOPs/2 as counted by `torch.utils.flop_counter.FlopCounterMode`, one forward
pass at batch 1 in eval mode; bias additions, activations, normalisation and pooling are not
counted. A layer whose ops the counter cannot attribute to its own module (a functional call in a
parent's forward) gets its MACs from its shape instead (`macs_source: "shape"`).

The paper's numbers are read from the spec (arch.params_per_layer, arch.neurons and, for the
paper's MACs, arch.feature_maps); none are written here.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

CONV_OPS = frozenset({"convolution", "_convolution", "conv1d", "conv2d", "conv3d", "cudnn_convolution"})
LINEAR_OPS = frozenset({"addmm", "mm", "bmm", "baddbmm", "matmul", "linear"})


def layer_table(ctx: Any) -> list[dict[str, Any]]:
    """One row per traced paper layer, in paper order (cached on the audit context)."""
    return ctx.cached("layer_table", lambda: _build(ctx))


def _build(ctx: Any) -> list[dict[str, Any]]:
    from ..trace import get_trace

    trace = get_trace(ctx)
    layers = trace.layers()
    model = ctx.model
    spec = ctx.spec  # the run's spec, never the packaged one behind the user's back
    try:
        counts = count_macs(model, tuple(ctx.target.input_size))
    except (Exception, SystemExit):  # the counter failing must not cost the table: fall back to shapes
        counts = {}
    return build_rows(layers, model, counts, paper_values(spec))


# ------------------------------------------------------------------ measurement ----------------

def count_macs(model: Any, input_size: tuple[int, ...], seed: int = 0) -> dict[str, dict[str, int]]:
    """Per-module MACs by op name, keyed by module path ("" for the root), from one forward pass.

    The root module's own class name, which FlopCounterMode prefixes to every path, is stripped.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..trace import eval_mode

    gen = torch.Generator().manual_seed(seed)
    try:
        param = next(model.parameters())
        device, dtype = param.device, (param.dtype if param.is_floating_point() else torch.float32)
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    x = torch.randn((1, *input_size), generator=gen).to(device=device, dtype=dtype)
    counter = FlopCounterMode(display=False)
    with eval_mode(model), torch.no_grad(), counter:
        model(x)
    root = type(model).__name__
    out: dict[str, dict[str, int]] = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == "Global":
            continue
        if key == root:
            path = ""
        elif key.startswith(root + "."):
            path = key[len(root) + 1:]
        else:
            continue
        ops: dict[str, int] = {}
        for op, flops in per_op.items():
            name = getattr(op, "_opname", None) or str(op).split(".")[-2 if str(op).count(".") >= 2 else -1]
            ops[name] = ops.get(name, 0) + int(flops) // 2
        out[path] = ops
    return out


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _kind(name: str, op: Any) -> str:
    k = str(_get(op, "kind", "") or "").lower()
    if "conv" in k:
        return "conv"
    if "linear" in k or k in ("fc", "dense") or k.startswith("fc"):
        return "linear"
    return "conv" if name.startswith("conv") else "linear" if name.startswith("fc") else k or "?"


def _ints(v: Any) -> list[int]:
    if v is None:
        return []
    if isinstance(v, int):
        return [v]
    return [int(x) for x in v]


def _shape_macs(kind: str, op: Any) -> int | None:
    """MACs of one sample from the layer's shapes: the fallback for unattributable layers."""
    attrs = _get(op, "attrs", {}) or {}
    out = _ints(_get(op, "out_shape"))
    if len(out) < 2:
        return None
    per_sample = math.prod(out[1:])
    if kind == "conv":
        cin, groups, k = attrs.get("in_channels"), attrs.get("groups", 1) or 1, _ints(attrs.get("kernel_size"))
        if cin is None or not k:
            return None
        spatial = len(out) - 2
        if len(k) == 1 and spatial > 1:
            k = k * spatial
        return per_sample * (int(cin) // int(groups)) * math.prod(k)
    if kind == "linear":
        fin = attrs.get("in_features")
        return per_sample * int(fin) if fin is not None else None
    return None


def _parts(op: Any) -> list[str]:
    parts = [str(p) for p in (_get(op, "parts") or []) if p is not None]
    if not parts and _get(op, "module_path") is not None:
        parts = [p for p in str(_get(op, "module_path")).split("+")]  # merged towers: "a+b"
    # drop a part nested inside another part (counts are inclusive of children)
    return [p for p in dict.fromkeys(parts) if not any(q != p and (p.startswith(q + ".") or q == "") for q in parts)]


def _params(op: Any, model: Any, parts: list[str]) -> int | None:
    named = dict(model.named_parameters()) if model is not None else {}
    ps = _get(op, "params")
    if isinstance(ps, int) and not isinstance(ps, bool) and ps > 0:  # the trace's count of unique params
        return ps
    if isinstance(ps, int):
        ps = []
    if isinstance(ps, dict):
        ps = list(ps.values())
    seen: set[int] = set()
    total = 0
    found = False
    for p in ps or []:
        if isinstance(p, str):
            p = named.get(p)
        if p is None or not hasattr(p, "numel") or id(p) in seen:
            continue
        seen.add(id(p))
        total += int(p.numel())
        found = True
    if found:
        return total
    if model is None or not parts:
        return None
    modules = dict(model.named_modules())
    for path in parts:
        mod = modules.get(path)
        for p in mod.parameters() if mod is not None else []:
            if id(p) not in seen:
                seen.add(id(p))
                total += int(p.numel())
                found = True
    return total if found else None


def _counted_macs(kind: str, parts: list[str], all_parts: set[str], counts: dict[str, dict[str, int]]) -> int | None:
    """MACs from the counter when every part is a module that holds this layer's ops and nothing else."""
    allowed = CONV_OPS if kind == "conv" else LINEAR_OPS if kind == "linear" else frozenset()
    total = 0
    for p in parts:
        if not p or p not in counts:
            return None
        ops = counts[p]
        if not ops or any(name not in allowed for name in ops):
            return None
        if any(q != p and q.startswith(p + ".") for q in all_parts):  # an ancestor of another layer
            return None
        total += sum(ops.values())
    return total if parts else None


def _order_key(name: str) -> tuple[int, int, str]:
    kind = 0 if name.startswith("conv") else 1 if name.startswith("fc") else 2
    digits = "".join(ch for ch in name if ch.isdigit())
    return (kind, int(digits) if digits else 0, name)


def build_rows(layers: dict[str, Any], model: Any, counts: dict[str, dict[str, int]],
               paper: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """The table from trace layers (paper name -> Op), per-module MAC counts and the paper values."""
    part_lists = {name: _parts(op) for name, op in layers.items()}
    used: dict[str, int] = {}
    for ps in part_lists.values():
        for p in ps:
            used[p] = used.get(p, 0) + 1
    all_parts = set(used)
    rows = []
    for name in sorted(layers, key=_order_key):
        op = layers[name]
        kind = _kind(name, op)
        parts = part_lists[name]
        shape = _ints(_get(op, "out_shape"))[1:]
        macs = None if any(used[p] > 1 for p in parts) else _counted_macs(kind, parts, all_parts, counts)
        source = "flop_counter"
        if macs is None:
            macs, source = _shape_macs(kind, op), "shape"
        pv = paper.get(name, {})
        rows.append({
            "layer": name,
            "kind": kind,
            "modules": parts,
            "output_shape": shape,
            "neurons": math.prod(shape) if shape else None,
            "paper_neurons": pv.get("neurons"),
            "params": _params(op, model, parts),
            "paper_params": pv.get("params"),
            "macs": macs,
            "paper_macs": pv.get("macs"),
            "macs_source": source if macs is not None else None,
        })
    return rows


# ------------------------------------------------------------------ the paper's values ---------

def _expected(spec: Any, item_id: str) -> dict[str, Any]:
    try:
        value = spec.item(item_id).expected
    except KeyError:
        return {}
    return value if isinstance(value, dict) else {}


def paper_values(spec: Any, layers: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
    """Per paper layer: params (arch.params_per_layer), neurons (arch.neurons) and MACs derived from them.

    Paper MACs, with one bias per output channel or neuron: a fc layer has params - neurons weights,
    one MAC each; a conv layer with an S x S map (arch.feature_maps) has C = neurons / S^2 kernels and
    (params - C) * S^2 MACs.
    """
    params = _expected(spec, "arch.params_per_layer")
    neurons = _expected(spec, "arch.neurons")
    maps = _expected(spec, "arch.feature_maps")
    names = list(layers) if layers is not None else list(dict.fromkeys([*params, *neurons]))
    out: dict[str, dict[str, int]] = {}
    for n in names:
        row: dict[str, int] = {}
        p, k = params.get(n), neurons.get(n)
        if isinstance(p, int):
            row["params"] = p
        if isinstance(k, int):
            row["neurons"] = k
        if isinstance(p, int) and isinstance(k, int):
            if n.startswith("fc"):
                row["macs"] = (p - k)
            elif isinstance(maps.get(n), int) and maps[n] > 0 and k % (maps[n] ** 2) == 0:
                s2 = maps[n] ** 2
                row["macs"] = (p - k // s2) * s2
        out[n] = row
    return out
