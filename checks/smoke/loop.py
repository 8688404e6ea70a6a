"""The training loop of a smoke run: set up, step, measure.

One fixed synthetic batch lives on the device (unit-variance N(0, 1) input of the target's
input_size, labels uniform over the classes, seeded per rank); the model trains on it in train
mode, so a working net must fit it quickly. The host never waits for a step inside the timed
window: losses and non-finite flags stay on the device until the end.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import UsageError, first_line
from ..target.record import Target, TargetError
from .devices import CpuMemory, device_name, peak_basis, resolve_device
from .failure import SmokeFailure
from .fallback import PaperRecipe, Recipe, build_recipe, default_batch
from .options import SmokeOptions
from .result import Measurement, build_result

if TYPE_CHECKING:
    import torch

    from ..spec.load import Spec


@dataclass(frozen=True)
class Group:
    """This process's place in the run: rank 0 of 1 without DDP."""

    rank: int = 0
    world: int = 1
    dist: Any = None  # torch.distributed under DDP

    @property
    def ddp(self) -> bool:
        return self.dist is not None


@dataclass
class Setup:
    """Everything the steps need, built before the first one."""

    dev: torch.device
    net: Any  # what a step calls: the model, wrapped in DDP and/or compiled
    eager: Any  # `net` without torch.compile, the fallback
    compiled: bool
    named: list[tuple[str, torch.nn.Parameter]]
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    flops_per_image: int
    recipe: Recipe
    autocast: Callable[[], AbstractContextManager[Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def is_cuda(self) -> bool:
        return self.dev.type == "cuda"

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])


@dataclass
class LoopState:
    """What the loop accumulates; tensors stay on the device until the end."""

    losses: list[torch.Tensor]
    bad: torch.Tensor  # any NaN/Inf seen so far
    no_grad_names: list[str] = field(default_factory=list)
    prev_loss: torch.Tensor | None = None


# ------------------------------------------------------------------------------------- setup ---

def _join_group(ddp: bool) -> Group:
    if not ddp:
        return Group()
    import torch.distributed as dist

    if not dist.is_initialized():
        raise UsageError("ddp=True needs an initialised process group (run under torchrun)")
    return Group(rank=dist.get_rank(), world=dist.get_world_size(), dist=dist)


def _build_model(target: Target, options: SmokeOptions, dev: torch.device) -> torch.nn.Module:
    import torch

    torch.manual_seed(options.seed)
    try:
        model = target.model()
    except Exception as exc:
        raise TargetError(f"building the model failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise TargetError(f"the model factory returned {type(model).__name__}, not an nn.Module")
    model = model.to(dev)
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _probe_forward(model: torch.nn.Module, target: Target, dev: torch.device,
                   fmt: torch.memory_format) -> tuple[int, int]:
    """(classes, FLOPs) of ONE eval forward at batch 1; a multiply-add counts 2."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    probe = torch.randn(1, *target.input_size, device=dev).contiguous(memory_format=fmt)
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = model(probe)
    except Exception as exc:
        raise SmokeFailure(f"the forward pass at batch 1 failed: {type(exc).__name__}: {exc}") from None
    model.train()
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""
        raise SmokeFailure(f"the model's output must be a (batch, classes) tensor (got {type(out).__name__}{shape})")
    return target.num_classes or int(out.shape[1]), int(counter.get_total_flops())


def _wrap(model: torch.nn.Module, options: SmokeOptions, dev: torch.device, group: Group,
          notes: list[str]) -> tuple[Any, Any, bool]:
    """(net, eager net, compiled): DDP around the model, torch.compile around that."""
    import torch

    net: Any = model
    if group.ddp:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    eager = net
    if options.compile:
        try:
            return torch.compile(net), eager, True
        except Exception as exc:
            notes.append(f"torch.compile failed ({first_line(exc)}); ran eager")
    return net, eager, False


def setup(target: Target, options: SmokeOptions, paper: PaperRecipe, dev: torch.device, group: Group) -> Setup:
    """Model, FLOPs, the fixed batch, the recipe and the wrappers, in the order the RNG sees them."""
    import torch

    fmt = torch.channels_last if options.channels_last else torch.contiguous_format
    model = _build_model(target, options, dev)
    num_classes, flops = _probe_forward(model, target, dev, fmt)
    is_cuda = dev.type == "cuda"
    bs = default_batch(target, options, paper, is_cuda)
    g = torch.Generator().manual_seed(options.seed + 1000 * group.rank)
    x = torch.randn(bs, *target.input_size, generator=g).to(dev).contiguous(memory_format=fmt)
    y = torch.randint(0, num_classes, (bs,), generator=g).to(dev)
    named = list(model.named_parameters())
    recipe = build_recipe(target, options, paper, [p for _, p in named], bs * group.world, dev)
    notes: list[str] = []
    net, eager, compiled = _wrap(model, options, dev, group, notes)

    def autocast() -> AbstractContextManager[Any]:
        if options.amp == "bf16":
            return torch.autocast(dev.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    return Setup(dev=dev, net=net, eager=eager, compiled=compiled, named=named, x=x, y=y, num_classes=num_classes,
                 flops_per_image=flops, recipe=recipe, autocast=autocast, notes=notes)


# -------------------------------------------------------------------------------------- step ---

def _forward_backward(s: Setup) -> tuple[torch.Tensor, torch.Tensor]:
    s.recipe.optimizer.zero_grad(set_to_none=True)
    with s.autocast():
        out = s.net(s.x)
        loss = s.recipe.loss_fn(out, s.y)
    loss.backward()
    return out, loss


def _step(s: Setup, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward and backward; a compile error at the first call falls back to eager."""
    try:
        if i == 0 and s.compiled:
            try:
                return _forward_backward(s)
            except Exception as exc:  # compile errors surface at the first call
                s.notes.append(f"torch.compile failed at the first step ({first_line(exc)}); ran eager")
                s.compiled, s.net = False, s.eager
        return _forward_backward(s)
    except (TargetError, UsageError):
        raise
    except Exception as exc:
        raise SmokeFailure(f"training step {i} failed: {first_line(exc)}") from None


def _grad_maxabs(s: Setup) -> tuple[list[int], torch.Tensor]:
    """Indices of params with a grad, and max |grad| of each (NaN/Inf propagate): one pass."""
    import torch

    params = [p for _, p in s.named]
    idx = [k for k, p in enumerate(params) if p.grad is not None]
    gs = [g.detach() for k in idx if (g := params[k].grad) is not None]
    if not gs:
        return idx, torch.zeros(0, device=s.dev)
    try:
        norms = list(torch._foreach_norm(gs, ord=math.inf))
    except (AttributeError, RuntimeError, TypeError):
        norms = [torch.linalg.vector_norm(gr, ord=math.inf) for gr in gs]
    return idx, torch.stack([n.float() for n in norms])


def _check_grads(s: Setup, st: LoopState, first: bool) -> None:
    """Non-finite gradients; after the first backward also the params that got no useful gradient."""
    import torch

    idx, maxabs = _grad_maxabs(s)
    st.bad |= ~torch.isfinite(maxabs).all()
    if first:
        ok = (torch.isfinite(maxabs) & (maxabs > 0)).tolist()
        good = {k for k, fine in zip(idx, ok, strict=True) if fine}
        st.no_grad_names = [name for k, (name, _) in enumerate(s.named) if k not in good]


def _update(s: Setup, st: LoopState, group: Group) -> None:
    """Optimizer and scheduler step; ReduceLROnPlateau gets the previous step's loss.

    Lagged by one step so the host never waits for the step just queued; under DDP the mean
    over the ranks, so that every rank takes the same lr decision.
    """
    s.recipe.optimizer.step()
    sched = s.recipe.scheduler
    plateau = sched is not None and s.recipe.plateau
    if sched is not None:
        if plateau:
            if st.prev_loss is not None:
                sched.step(float(st.prev_loss))
        else:
            sched.step()
    st.prev_loss = st.losses[-1]
    if plateau and group.ddp:
        prev = st.prev_loss.detach().clone()
        group.dist.all_reduce(prev, op=group.dist.ReduceOp.SUM)
        st.prev_loss = prev / group.world


class _Timer:
    """Wall time of the timed steps: CUDA events on a GPU, perf_counter on a CPU."""

    def __init__(self, dev: torch.device) -> None:
        self.dev = dev
        self.t0 = 0.0
        self.events: tuple[Any, Any] | None = None

    def start(self) -> None:
        import torch

        if self.dev.type == "cuda":
            self.events = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            torch.cuda.synchronize(self.dev)
            self.events[0].record()
        self.t0 = time.perf_counter()

    def stop(self) -> float:
        import torch

        if self.dev.type == "cuda":
            assert self.events is not None
            self.events[1].record()
            torch.cuda.synchronize(self.dev)
            return float(self.events[0].elapsed_time(self.events[1])) / 1000.0
        return time.perf_counter() - self.t0


def train(s: Setup, options: SmokeOptions, group: Group, name: str) -> tuple[LoopState, float]:
    """All the steps; returns the loop's state and the seconds of the timed steps."""
    import torch
    from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

    steps, warm = options.steps, options.warmup_steps
    st = LoopState(losses=[], bad=torch.zeros((), dtype=torch.bool, device=s.dev))
    timer = _Timer(s.dev)
    with tqdm(total=steps, desc=f"smoke {name}", unit="step", file=sys.stderr, disable=not options.progress,
              dynamic_ncols=True) as bar:
        for i in range(steps):
            if i == warm:
                timer.start()
            out, loss = _step(s, i)
            if i in (0, steps - 1):
                _check_grads(s, st, first=i == 0)
            st.bad |= ~torch.isfinite(out.detach()).all()
            st.losses.append(loss.detach().float())
            _update(s, st, group)
            bar.update(1)
            if i < warm and options.progress:
                bar.set_postfix(loss=f"{float(st.losses[-1]):.3f}")
        elapsed = timer.stop()
        bar.set_postfix(loss=f"{float(st.losses[-1]):.3f}")
    return st, elapsed


# ----------------------------------------------------------------------------------- measure ---

def _gather(s: Setup, st: LoopState, elapsed: float, group: Group) -> tuple[list[float], float, bool]:
    """(loss curve, seconds, non-finite): the curve is the ranks' mean, the rest their worst."""
    import torch

    curve_t = torch.stack(st.losses)
    stats = torch.tensor([elapsed, float(st.bad)], dtype=torch.float64)
    if group.ddp:
        comm_dev = s.dev if s.is_cuda else torch.device("cpu")
        curve_t = curve_t.to(comm_dev)
        group.dist.all_reduce(curve_t, op=group.dist.ReduceOp.SUM)
        curve_t /= group.world
        stats = stats.to(comm_dev)
        group.dist.all_reduce(stats, op=group.dist.ReduceOp.MAX)
    return [float(v) for v in curve_t.cpu().tolist()], float(stats[0]), bool(stats[1] > 0)


def _peak_memory(dev: torch.device, cpu_mem: CpuMemory | None, group: Group) -> int | None:
    """CUDA: max_memory_allocated since the reset; CPU: peak RSS growth; under DDP the largest rank's."""
    import torch

    if dev.type == "cuda":
        peak: int | None = int(torch.cuda.max_memory_allocated(dev))
    else:
        assert cpu_mem is not None
        peak = cpu_mem.peak_growth()
    if group.ddp and peak is not None:
        t = torch.tensor([peak], dtype=torch.float64, device=dev if dev.type == "cuda" else "cpu")
        group.dist.all_reduce(t, op=group.dist.ReduceOp.MAX)
        peak = int(t.item())
    return peak


def measure(target: Target, options: SmokeOptions, paper: PaperRecipe, dev: torch.device,
            group: Group) -> Measurement:
    """Set up, train and reduce over the ranks; cuDNN autotuning only for the run's duration."""
    import torch

    is_cuda = dev.type == "cuda"
    cpu_mem = None
    if is_cuda:
        torch.cuda.set_device(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    else:
        cpu_mem = CpuMemory()
    old_benchmark = torch.backends.cudnn.benchmark
    if is_cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    try:
        s = setup(target, options, paper, dev, group)
        st, elapsed = train(s, options, group, target.name)
        curve, elapsed, nonfinite = _gather(s, st, elapsed, group)
        peak_mem = _peak_memory(dev, cpu_mem, group)
    finally:
        torch.backends.cudnn.benchmark = old_benchmark
    return Measurement(device_name=device_name(dev), is_cuda=is_cuda, world=group.world, ddp=group.ddp,
                       batch_size=s.batch_size, num_classes=s.num_classes, flops_per_image=s.flops_per_image,
                       curve=curve, elapsed=elapsed, nonfinite=nonfinite, no_grad_names=st.no_grad_names,
                       peak_memory_bytes=peak_mem, peak_basis=peak_basis(options.amp, is_cuda), compiled=s.compiled,
                       recipe=s.recipe.info, notes=s.notes)


def run_smoke(target: Target, options: SmokeOptions | None = None, *, spec: Spec, ddp: bool = False) -> dict[str, Any]:
    """Train `target` on one fixed synthetic batch for `options.steps` steps; the result has `FIELDS`.

    `spec` supplies the paper's §5 recipe where the target gives none; `ddp=True` runs this
    process as one rank of an initialised process group.
    """
    options = options or SmokeOptions()
    paper = PaperRecipe.from_spec(spec)
    group = _join_group(ddp)
    dev = resolve_device(options.device)
    return build_result(target, options, measure(target, options, paper, dev, group))
