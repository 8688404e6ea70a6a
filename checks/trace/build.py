"""Build the trace: record one seeded forward pass, run the graph passes, describe each unit, and
name the weight layers in execution order (conv1, conv2, ... and fc6, fc7, ...; extras continue)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, cast

import torch
import torch.nn as nn

from ..core.errors import first_line
from .bias import fold_late_bias
from .describe import describe
from .dispatch import DispatchRecorder, has_script, is_script, untraceable, unwrap
from .fused import expand
from .graph import Unit, fold_bias, fold_unfold, main_path, math_regions, units_of
from .kinds import OpKind
from .layout import mark_channel_axes
from .ops import Detail, Op, Trace
from .padding import fold_pads
from .record import Call, Recorder, flat, shape_of, unique
from .replay import replayer
from .spans import join_spans
from .towers import merge_towers


def make_input(model: nn.Module, input_size: tuple[int, ...], *, seed: int = 0, batch: int = 2) -> torch.Tensor:
    """The audit's input: N(0, 1) of shape (batch, *input_size), seeded, in the model's dtype."""
    try:
        p0 = next(model.parameters())
        dtype = p0.dtype if p0.is_floating_point() else torch.float32
    except StopIteration:
        dtype = torch.float32
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *input_size), generator=gen).to(dtype)


def nonfinite_reason(y: torch.Tensor, shape: tuple[int, ...]) -> str | None:
    """Why a model output cannot be audited (NaN or inf values), or None when it is finite."""
    if not (y.is_floating_point() or y.is_complex()):
        return None
    bad = int((~torch.isfinite(y)).sum())
    if not bad:
        return None
    kind = "NaN" if bool(torch.isnan(y).any()) else "inf"
    return f"the forward pass returned non-finite outputs ({bad} of {y.numel()} are {kind}) on a {shape} input"


def output_problem(y: torch.Tensor, shape: tuple[int, ...], num_classes: int | None = None) -> str | None:
    """Why a model's output is not [N, C] finite class scores that can be audited, or None.

    The paper's net ends in a 1000-way score vector per image (§3.5); an empty, extra-dimensional,
    integer or non-finite output, or one whose class count contradicts the declared one, would
    make every structural verdict rest on a misread output.
    """
    got = list(y.shape)
    if not y.is_floating_point():
        return f"the forward pass returned {y.dtype} values of shape {got}, not floating-point class scores"
    if y.dim() != 2:
        return f"the forward pass returned a tensor of shape {got}, not [N, C] class scores, on a {shape} input"
    if y.shape[0] != shape[0]:
        return f"the forward pass returned {y.shape[0]} rows for a batch of {shape[0]} (shape {got})"
    if y.shape[1] == 0:
        return f"the forward pass returned no class scores (shape {got}) on a {shape} input"
    if num_classes is not None and y.shape[1] != num_classes:
        return (f"the target declares num_classes {num_classes} but the model outputs {y.shape[1]} scores "
                "per image; fix num_classes or the model's last layer")
    return nonfinite_reason(y, shape)


def _record(model: nn.Module, x: torch.Tensor, train: bool, seed: int,
            deep: bool = False) -> tuple[Recorder, list[Call], Any]:
    """Run model(x) once under the recorder and module hooks; model modes and buffers restored. With `deep`
    (or a TorchScript part) the dispatcher-level recorder also sees what runs below Python (a scripted function)."""
    names = {id(m): n for n, m in model.named_modules(remove_duplicate=False)}
    rec = Recorder({id(x)}, list(model.parameters()))
    calls: list[Call] = []
    stack_calls: list[Call] = []

    def pre(mod: nn.Module, args: tuple[Any, ...]) -> None:
        c = Call(names.get(id(mod), "?"), mod, len(rec.recs), args[0] if args else None)
        calls.append(c)
        stack_calls.append(c)
        rec.stack.append(c.path)

    def post(mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        c = stack_calls.pop()
        rec.stack.pop()
        c.end, c.out = len(rec.recs), out

    handles = []
    script = is_script(model)
    for m in model.modules():
        if script or is_script(m):  # hooks cannot be registered; the dispatcher-level recorder sees its ops
            continue
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    # a TorchScript module is seen at the dispatcher level; a TorchScript part of an eager model at both
    mode: Any = DispatchRecorder(rec) if script else rec
    inner: Any = DispatchRecorder(rec) if not script and (deep or has_script(model)) else contextlib.nullcontext()
    modes = {m: m.training for m in model.modules()}
    buffers = [(b, b.detach().clone()) for b in model.buffers()] if train else []
    try:
        model.train(train)
    except NotImplementedError as exc:  # torch.export's module: train()/eval() are not supported
        raise ValueError(f"cannot trace: the model cannot be put in {'train' if train else 'eval'} mode "
                         f"({first_line(exc)}); pass the eager nn.Module (before torch.export)") from None
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            with torch.no_grad(), mode, inner:
                y = model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
        with torch.no_grad():
            for b, v in buffers:
                b.copy_(v)
    return rec, calls, y


def _logical_units(rec: Recorder, calls: list[Call], x: torch.Tensor, out_t: torch.Tensor) -> list[Unit]:
    tensors: dict[int, torch.Tensor] = {id(x): x}
    for r in rec.recs:
        for t in flat(r.out):
            tensors[id(t)] = t
    units = units_of(rec.recs, calls, rec.data, tensors)
    units = fold_unfold(fold_bias(main_path(units, [id(out_t)])))
    units = math_regions(units)
    for u in units:
        if u.fn is None and len(u.recs) == 1 and u.data_in and u.out_ids:
            u.fn = replayer(u.recs, u.data_in[0], u.out_ids[0])
    units = join_spans(fold_late_bias(merge_towers(units)), id(x))
    return fold_pads(units)


def _used_params(rec: Recorder, units: list[Unit]) -> list[torch.Tensor]:
    """Parameters the pass used: those behind weight arguments, and any passed to a kept call."""
    used: list[torch.Tensor] = []
    for r in rec.recs:
        used.extend(r.wparams + r.bparams)
    for u in units:
        for r in u.recs:
            for t in flat((r.args, r.kwargs)):
                if isinstance(t, nn.Parameter) or id(t) in rec.params:
                    used.append(t)
    return used


def build_trace(model: nn.Module, input_size: tuple[int, ...], *, train: bool = False, measure: bool = True,
                seed: int = 0, batch: int = 2) -> Trace:
    """Run `model` once on a seeded (batch, *input_size) input and build the logical op list.

    A wrapper (DataParallel, DDP, AveragedModel, torch.compile) is traced through the module it wraps;
    a TorchScript module is recorded at the dispatcher level."""
    model = unwrap(model)
    why = untraceable(model)
    if why:
        raise ValueError(why)
    x = make_input(model, input_size, seed=seed, batch=batch)
    rec, calls, y = _record(model, x, train, seed)
    outs = flat(y)
    if not outs:
        raise RuntimeError(f"the model returned {type(y).__name__}, not a tensor")
    if id(outs[0]) not in rec.data and not is_script(model):  # made out of sight (a torch.jit.script function)
        rec, calls, y = _record(model, x, train, seed, deep=True)
        outs = flat(y)
    out_t = outs[0]
    bad = nonfinite_reason(out_t, tuple(x.shape))
    if bad:
        raise ValueError(bad)
    units = _logical_units(rec, calls, x, out_t)
    mark_channel_axes(units, id(x))
    used_params = _used_params(rec, units)
    for u in units:
        if u.in_shape is None:
            u.in_shape = shape_of(u.inp)
    pnames = {id(p): n for n, p in model.named_parameters()}
    ops: list[Op] = []
    details: list[Detail] = []
    n_conv = n_fc = 0
    for u in units:
        parts: tuple[str, ...] = tuple(m.path for m in u.members) if u.members else ()
        described = describe(u, measure, x.dtype, pnames)
        for kind, attrs, det, in_shape, out_shape in expand(*described, tuple(u.in_shape or ()), shape_of(u.out)):
            name = ""
            params = 0
            if kind == "conv":
                n_conv += 1
                name = f"conv{n_conv}"
            elif kind == "linear":
                n_fc += 1
                name = f"fc{5 + n_fc}"
            if name:
                params = sum(int(t.numel()) for t in unique(det.weights + det.biases))
            ops.append(Op(cast(OpKind, kind), name, u.path, in_shape, out_shape, attrs, parts, params))
            details.append(det)
    return Trace(ops=ops, input_shape=tuple(x.shape), output_shape=tuple(out_t.shape), details=details,
                 output=out_t, param_count=sum(int(t.numel()) for t in unique(used_params)),
                 registered_params=sum(int(p.numel()) for p in model.parameters()), training=train)


# ------------------------------------------------------------------ audit entry points ---------

@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Run the model in eval mode; every submodule's own mode is put back afterwards (probes that run
    the target outside the trace must not leave it in another mode)."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the measurements single-threaded: they are many small ops, for which the intra-op thread
    pool costs more than it gains (10x slower on a shared 2-core machine); restored afterwards."""
    n = torch.get_num_threads()
    if n > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n > 1:
            torch.set_num_threads(n)


def _build(ctx: Any, train: bool) -> Trace:
    with one_thread():
        return build_trace(ctx.model, tuple(ctx.target.input_size), train=train, measure=not train)


def get_trace(ctx: Any) -> Trace:
    """The audit's structural trace: eval mode, batch 2, seed 0; computed once per audit."""
    return ctx.cached("trace", lambda: test_time_scales(_build(ctx, False), lambda: get_train_trace(ctx)))


def test_time_scales(tr: Trace, train: Callable[[], Trace]) -> Trace:
    """§4.2's own form: a mask in training and `x * (1 - p)` at test time. An eval-mode constant scaling
    is that dropout's test-time half when the train-mode pass drops the same block's output with a
    rate of 1 - factor and leaves survivors unscaled; it then reads as a dropout that is a constant scale."""
    scales = [i for i, op in enumerate(tr.ops) if op.kind == "scale" and 0 < op.attrs.get("factor", 0) < 1]
    if not scales:
        return tr
    ttr = train()
    masks = {ttr.block_of(j): op for j, op in enumerate(ttr.ops)
             if op.kind == "dropout" and op.attrs.get("hand_written")}
    ops = list(tr.ops)
    for i in scales:
        m = masks.get(tr.block_of(i))
        live = m.attrs.get("nonzero_in", 0) if m else 0
        if m is None or not live or abs(m.attrs.get("survivor_scale", 0) - 1) > 1e-6:
            continue
        factor = ops[i].attrs["factor"]
        if abs(factor - (1 - m.attrs["zeroed"] / live)) <= 0.05:
            ops[i] = replace(ops[i], kind="dropout", attrs={**ops[i].attrs, "hand_written": True, "identity": False,
                                                              "const_scale": True, "scale": factor, "p": None,
                                                              "training": None, "function": "test-time scale"})
    return replace(tr, ops=ops)


def get_train_trace(ctx: Any) -> Trace:
    """The same input in train mode (dropout sites active); only names and raw dropout records."""
    return ctx.cached("trace_train", lambda: _build(ctx, True))
