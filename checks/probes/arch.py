"""Architecture probes (§3): layer order, shapes, channel connectivity, activations, parameters.

Everything here is read from the one traced forward pass (`trace.get_trace`, in trace/build.py):
shapes are those of the tensors that flowed, kernel/stride are the arguments of the executed conv
calls, groups are measured from which input channels can move which output channels, activations
are classified by their response on a probe vector.
"""
from __future__ import annotations

import math
from typing import Any

from ..core.findings import Observation
from ..core.numbers import sig
from ..spec.load import Item
from ..trace import ACTIVATIONS, POOLS, Op, Trace, get_trace
from . import probe
from .context import Context

# ops that do not change the function on the audited input, or only re-lay it out
_INVISIBLE = {"flatten", "reshape", "slice", "identity", "cat"}


def hw(shape: tuple[int, ...] | list[int]) -> Any:
    """Spatial size as one int when square, else [h, w]."""
    s = [int(v) for v in shape]
    if not s:
        return None
    return s[0] if len(set(s)) == 1 else s


def is_identity(op: Op) -> bool:
    return op.kind == "identity" or (op.kind in POOLS and bool(op.attrs.get("identity")))


def visible(trace: Trace) -> list[int]:
    """Indices of the ops that change the function (layouts and identities removed)."""
    return [i for i, op in enumerate(trace.ops) if op.kind not in _INVISIBLE and not is_identity(op)]


def sequence(trace: Trace) -> list[str]:
    """The paper-style layer sequence: layer names for conv/fc, kinds otherwise.

    Dropout written before the ReLU is put after it (ReLU(m x) = m ReLU(x), paper notes §10.8 in docs/paper_notes.md).
    """
    seq = [(trace.ops[i].name or trace.ops[i].kind) for i in visible(trace)]
    out = list(seq)
    for j in range(len(out) - 1):
        if out[j] == "dropout" and out[j + 1] in ACTIVATIONS:
            out[j], out[j + 1] = out[j + 1], out[j]
    return out


def blocks(trace: Trace) -> list[tuple[str, list[int]]]:
    """(weight layer name, indices of the visible ops after it up to the next weight layer)."""
    out: list[tuple[str, list[int]]] = []
    current: tuple[str, list[int]] | None = None
    for i in visible(trace):
        op = trace.ops[i]
        if op.name:
            current = (op.name, [])
            out.append(current)
        elif current is None:
            current = ("input", [i])
            out.append(current)
        else:
            current[1].append(i)
    return out


def layer(trace: Trace, name: str) -> Op | None:
    return trace.layers().get(name)


def last_linear(trace: Trace) -> Op | None:
    named = [op for op in trace.ops if op.name]
    return named[-1] if named and named[-1].kind == "linear" else None


def _where(trace: Trace, names: list[str]) -> str:
    out = []
    for n in names:
        try:
            out.append(trace.where(trace.index(n)))
        except KeyError:
            pass
    return ", ".join(dict.fromkeys(o for o in out if o))


@probe("input_size")
def input_size(ctx: Context, item: Item) -> Observation:
    """Spatial size of the input and of conv1's output, from one forward pass on the target's input size."""
    tr = get_trace(ctx)
    conv1 = layer(tr, "conv1")
    value = {"input": hw(tr.input_shape[2:]), "conv1_out": hw(conv1.out_shape[2:]) if conv1 else None}
    if conv1 is None:
        return Observation(value, "no convolution executed", "")
    a = conv1.attrs
    pad = f" (incl. {a['pad_op']}; (left, right, top, bottom))" if "pad_op" in a else ""
    ev = (f"input {list(tr.input_shape[1:])} -> conv1 kernel_size={a.get('kernel_size')} stride={a.get('stride')} "
          f"padding={a.get('padding')}{pad} -> {list(conv1.out_shape[1:])}")
    return Observation(value, ev, tr.where(tr.index("conv1")))


def _role(op: Op) -> str:
    """What a stage is, for telling which spec item reports a difference in the sequence."""
    if op.name:
        return "weight"
    if op.kind in ACTIVATIONS:
        return "activation"
    if op.kind in POOLS:
        return "pool"
    return str(op.kind)  # lrn, dropout, batchnorm, softmax, log_softmax, pad, norm, ...


def _declared_nll(ctx: Context) -> tuple[bool, str]:
    """Whether the target's declared loss is the negative log-likelihood of log-probabilities,
    measured on known inputs: loss(z, t) == -mean(z[i, t_i]) (nn.NLLLoss, F.nll_loss)."""
    import torch
    import torch.nn as nn

    loss = ctx.recipe.get("loss")
    if loss is None:
        return False, "no loss declared"
    fn = loss
    if isinstance(loss, type) or (callable(loss) and not isinstance(loss, nn.Module) and _takes_no_args(loss)):
        try:
            fn = loss()
        except Exception as exc:  # the target's own factory failed: say so, the sequence still compares
            return False, f"the declared loss factory failed: {type(exc).__name__}"
    gen = torch.Generator().manual_seed(99)
    z = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    t = torch.randint(0, 7, (5,), generator=gen)
    try:
        got = fn(z, t)
        value = float(got) if isinstance(got, torch.Tensor) and got.numel() == 1 else None
    except (RuntimeError, TypeError, ValueError) as exc:
        return False, f"the declared loss failed on a (5, 7) input: {type(exc).__name__}"
    nll = -float(z[torch.arange(5), t].mean())
    if value is not None and math.isclose(value, nll, rel_tol=1e-6, abs_tol=1e-9):
        return True, "the declared loss is the NLL of its input (measured)"
    return False, "the declared loss is not the NLL of its input (measured)"


def _takes_no_args(fn: Any) -> bool:
    import inspect

    try:
        sig_ = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in sig_.parameters.values())


@probe("layer_sequence")
def layer_sequence(ctx: Context, item: Item) -> Observation:
    """The ordered stages that executed (conv/fc by paper name, activations/pools/LRN by measured kind)."""
    tr = get_trace(ctx)
    idx = visible(tr)
    seq = sequence(tr)
    roles = {}
    for i in idx:
        roles[tr.ops[i].name or tr.ops[i].kind] = _role(tr.ops[i])
    dropped = [f"{lab} ({op.module_path or op.kind})" for lab, op in zip(tr.labels(), tr.ops, strict=True)
               if is_identity(op)]
    ev = "executed: " + " ".join(seq)
    if seq and seq[-1] == "log_softmax":
        # §3.5: the net maximises the multinomial logistic regression objective; a log_softmax read by
        # an NLL loss is that objective written in two steps, not an extra layer.
        nll, why = _declared_nll(ctx)
        if nll:
            seq = seq[:-1]
            ev += f"; the trailing log_softmax is the paper's objective ({why}) and is not compared"
        else:
            ev += f"; a trailing log_softmax ({why})"
    if dropped:
        ev += "; identities on this input ignored: " + ", ".join(dropped)
    ev += padding_modes(tr) + _unnamed(tr)
    return Observation(seq, ev, "", detail={"roles": roles})


def _unnamed(tr: Trace) -> str:
    """The measured signature of each op the trace could not name (`other`)."""
    from ..trace.footprint import describe

    labels = tr.labels()
    out = [f"{labels[i]} ({tr.where(i)}): {describe(op.attrs['signature'], op.in_shape, op.out_shape)}"
           for i, op in enumerate(tr.ops)
           if op.kind == "other" and isinstance(op.attrs.get("signature"), dict)]
    return ("; unnamed ops, measured: " + "; ".join(out)) if out else ""


def padding_modes(tr: Trace) -> str:
    """The measured padding mode of every conv that pads in another mode than zeros, as evidence: the
    paper states no padding mode (only the map sizes that imply the amounts), so any mode is a reading
    it allows; a pad that feeds a conv is that conv's padding, never a layer."""
    modes: dict[str, list[str]] = {}
    for op in tr.ops:
        if op.name and op.attrs.get("padding_mode"):
            modes.setdefault(str(op.attrs["padding_mode"]), []).append(op.name)
    if not modes:
        return ""
    return ("; padding mode (measured): " + ", ".join(f"{m} at {', '.join(ns)}" for m, ns in modes.items())
            + " (the paper states no padding mode, only the sizes: an accepted reading, not a layer)")


_CONV_ATTRS = ("out_channels", "in_channels", "kernel_size", "stride", "padding", "groups")


@probe("conv_attr")
def conv_attr(ctx: Context, item: Item) -> Observation:
    """One attribute of a conv layer as executed (channels/shapes from tensors, groups from measured connectivity)."""
    name, attr = item.params["layer"], item.params["attr"]
    if attr not in _CONV_ATTRS:
        raise ValueError(f"conv_attr: unknown attr '{attr}' (one of {', '.join(_CONV_ATTRS)})")
    tr = get_trace(ctx)
    op = layer(tr, name)
    if op is None or op.kind != "conv":
        convs = [o.name for o in tr.ops if o.kind == "conv"]
        return Observation(None, f"no {name} executed (convolutions seen: {', '.join(convs) or 'none'})", "")
    a = op.attrs
    value = a.get(attr)
    ev = (f"{name}: in_channels={a.get('in_channels')} out_channels={a.get('out_channels')} "
          f"kernel_size={a.get('kernel_size')} stride={a.get('stride')} padding={a.get('padding')} "
          f"groups={a.get('groups')} (measured)")
    if attr == "groups":
        ev += f"; declared groups={a.get('groups_declared')}"
        if op.parts:
            ev += f"; {len(op.parts)} explicit towers merged: {', '.join(op.parts)}"
        if "connectivity" in a:
            ev += "; connectivity blocks [in_first, in_last, out_first, out_last]: " + str(a["connectivity"])
    return Observation(value, ev, tr.where(tr.index(name)))


@probe("feature_maps")
def feature_maps(ctx: Context, item: Item) -> Observation:
    """Spatial size after each conv layer and each pooling that changes the function (pool1 after conv1, ...)."""
    tr = get_trace(ctx)
    labels = tr.labels()
    value: dict[str, Any] = {}
    for i in visible(tr):
        op = tr.ops[i]
        if (op.kind == "conv" or op.kind in POOLS) and len(op.out_shape) >= 3:
            value[op.name or labels[i]] = hw(op.out_shape[2:])
    ev = ", ".join(f"{k}: {v}" for k, v in value.items())
    return Observation(value, ev, "")


@probe("fc_attr")
def fc_attr(ctx: Context, item: Item) -> Observation:
    """out_features of a fully-connected layer, from the width of its executed output."""
    name = item.params["layer"]
    tr = get_trace(ctx)
    op = layer(tr, name)
    if op is None or op.kind != "linear":
        fcs = [o.name for o in tr.ops if o.kind == "linear"]
        return Observation(None, f"no {name} executed (fully-connected layers seen: {', '.join(fcs) or 'none'})", "")
    ev = f"{name}: in_features={op.attrs.get('in_features')} out_features={op.attrs.get('out_features')}"
    if op.attrs.get("written_as"):  # every output reads every input through its own weight: a dense layer
        ev += f" (written as a {op.attrs['written_as']}: one output position reading the whole map, a dense layer)"
    return Observation(op.attrs.get("out_features"), ev, tr.where(tr.index(name)))


_ACT_ATTRS = ("negative_slope", "alpha", "approximate", "factor")


def _act_desc(op: Op) -> str:
    """The kind with its measured constants (read off float32 outputs: 4 significant digits)."""
    extra = ", ".join(f"{k}={f'{sig(v, 4):g}' if isinstance(v, float) else v}" for k, v in op.attrs.items()
                      if k in _ACT_ATTRS)
    return op.kind + (f"({extra})" if extra else "")


@probe("activation")
def activation(ctx: Context, item: Item) -> Observation:
    """Every elementwise non-linearity classified by its measured response on a probe vector in [-8, 8]."""
    tr = get_trace(ctx)
    labels = tr.labels()
    acts = [(labels[i], i, op) for i, op in enumerate(tr.ops) if op.kind in ACTIVATIONS]
    if not acts:
        return Observation("none", "no elementwise non-linearity executed", "")
    per = {f"after {tr.block_of(i)}": _act_desc(op) for _, i, op in acts}
    kinds = {op.kind for _, _, op in acts}
    value: Any = kinds.pop() if len(kinds) == 1 else per
    ev = "; ".join(f"{k}: {v}" for k, v in per.items())
    where = ", ".join(dict.fromkeys(tr.where(i) for _, i, _ in acts))
    return Observation(value, ev, where)


@probe("relu_placement")
def relu_placement(ctx: Context, item: Item) -> Observation:
    """Per conv/fc layer: whether a non-linearity is applied to its output before the next layer."""
    tr = get_trace(ctx)
    value: dict[str, bool] = {}
    detail = []
    for name, idx in blocks(tr):
        if name == "input":
            continue
        acts = [tr.ops[i].kind for i in idx if tr.ops[i].kind in ACTIVATIONS]
        value[name] = bool(acts)
        detail.append(f"{name}: {'+'.join(acts) if acts else 'none'}")
    ev = "non-linearity after each layer (type judged by arch.activation): " + ", ".join(detail)
    return Observation(value, ev, "")


def _fc8_adjust(tr: Trace, count: int | None) -> tuple[int, str]:
    head = last_linear(tr)
    if count is None or head is None:
        return 0, ""
    fin, fout = head.attrs.get("in_features"), head.attrs.get("out_features")
    if not fin or not fout or fout == count:
        return 0, ""
    det = tr.details[tr.index(head.name)]
    per_out = head.params // fout if fout else int(fin) + (1 if det.biases else 0)
    return (count - fout) * per_out, f"{head.name} has {fout} outputs, counted as {count}"


@probe("params_total")
def params_total(ctx: Context, item: Item) -> Observation:
    """Unique parameters (weights and biases) used by the forward pass, with fc8 counted at count_classes outputs."""
    tr = get_trace(ctx)
    adj, note = _fc8_adjust(tr, item.params.get("count_classes"))
    value = tr.param_count + adj
    ev = f"{tr.param_count:,} unique parameters used in the forward pass (registered: {tr.registered_params:,})"
    if note:
        ev += f"; {note}: {value:,}"
    return Observation(value, ev, "")


@probe("params_per_layer")
def params_per_layer(ctx: Context, item: Item) -> Observation:
    """Unique weight+bias elements per conv/fc layer (merged towers summed), fc8 at count_classes outputs."""
    tr = get_trace(ctx)
    adj, note = _fc8_adjust(tr, item.params.get("count_classes"))
    head = last_linear(tr)
    value = {op.name: op.params + (adj if head is not None and op.name == head.name else 0)
             for op in tr.ops if op.name}
    ev = ", ".join(f"{k}: {v:,}" for k, v in value.items()) + (f" ({note})" if note else "")
    return Observation(value, ev, "")


@probe("neurons")
def neurons(ctx: Context, item: Item) -> Observation:
    """Output units per conv/fc layer per example (C*H*W), fc8 counted at count_classes outputs."""
    tr = get_trace(ctx)
    count = item.params.get("count_classes")
    head = last_linear(tr)
    value = {}
    for op in tr.ops:
        if op.name:
            n = math.prod(op.out_shape[1:])
            if count is not None and head is not None and op.name == head.name:
                n = int(count)
            value[op.name] = int(n)
    total = sum(value.values())
    ev = ", ".join(f"{k}: {v:,}" for k, v in value.items()) + f"; total {total:,}"
    if count is not None and head is not None and head.attrs.get("out_features") != count:
        ev += f" ({head.name} has {head.attrs.get('out_features')} outputs, counted as {count})"
    return Observation(value, ev, "")
