"""Training smoke run (issue #7): does the target train, and how fast, on synthetic data.

One fixed synthetic batch lives on the device (fixed seed, unit-variance N(0, 1) input of the
target's input_size, labels uniform over num_classes). The model is trained on it in train mode for
`steps` steps with the target's optimizer, scheduler and loss where it gives them (else the paper's
§5 recipe: SGD lr 0.01, momentum 0.9, weight decay 5e-4, cross-entropy; `recipe="paper"` always
uses the paper's). Nothing is downloaded.

How each JSON field is measured (`FIELDS` is the exact set of top-level keys):

- `initial_loss`: loss of the first step, before any update (train mode, so dropout is active).
  With the §5 init on unit-variance input a 1000-way AlexNet gives about 7.7-8.4 (logits std ~1.4
  because of the constant-1 biases); more than `INIT_LOSS_MARGIN` away from `ln_num_classes`
  (the loss of a uniform prediction), or NaN, says the init or the input scaling is broken.
- `loss_curve`: the loss of every step (before that step's update); `final_loss` is its last value.
- `loss_falls`: the mean of the last quarter of the curve (1 to 5 steps) is below
  `FALL_RATIO` (0.75) x min(initial_loss, ln_num_classes): a fall of a quarter below the uniform
  loss, which a net stuck at ln(C) (the classic failure) never shows. The tail mean, not the last
  value, because dropout makes single steps noisy.
- `params_without_grad`: parameters whose .grad is None, non-finite or all zero after the first
  backward (names in `problems`).
- `nonfinite`: NaN/Inf in any step's loss or outputs, or in the gradients of the first and last
  steps (a NaN gradient anywhere else makes the next step's outputs NaN, so it is caught too).
- `images_per_second`: images of the timed steps / their wall time; the first `warmup` steps
  (default min(3, steps // 4), at least 1) are excluded. CUDA: `torch.cuda.Event` pair around
  the timed steps; CPU: `time.perf_counter`. Under DDP: global images (batch x world) / the
  slowest rank's time.
- `peak_memory_bytes`: CUDA: `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`
  at the start of the run (model, optimizer state, data, activations; not the caching allocator's
  reserve). CPU: growth of the process's peak RSS over its RSS at the start of the run (Linux:
  VmHWM after resetting it through /proc/self/clear_refs; elsewhere getrusage ru_maxrss, which
  cannot be reset, so an earlier, higher peak of the process hides this run's).
- `flops_per_image`: `torch.utils.flop_counter.FlopCounterMode` on ONE forward pass at batch 1
  (eval mode, no grad; a multiply-add counts 2). Forward only: a training step costs about 3x
  (backward ~2x forward), which `achieved_tflops` = 3 x flops_per_image x images_per_second / 1e12
  assumes.
- `peak_share`: achieved_tflops / the device's dense peak (`PEAK_TFLOPS`; bf16 with `amp="bf16"`,
  else TF32 when cuDNN may use it for convolutions, PyTorch's default, else FP32); null on CPU and
  on GPUs not in the table.
- `device`, `dtype`, `steps`, `batch_size` (per process), `versions` (torch, torchvision, cuda).
- Also: `target`, `recipe` (what was built, the lr scaling), `options`, `notes`, `problems`
  (one line each) and `verdict` ("ok" or "fail").

Batch size and learning rate. The default batch is the recipe's (paper: 128) on CUDA and 8 on
CPU. When the global batch B differs from the recipe's B0, every param group's lr is multiplied
by B / B0 (the linear scaling rule, Goyal et al. 2017) before the scheduler is built, so each
example moves the weights as much as in the recipe: measured on the reference at batch 8, the
unscaled lr 0.01 (16x the per-example step of batch 128) sends the fixed-batch loss from 7.8 to
3.2 and then up to ~57 within 5 steps; scaled, it falls to ~3-4 and stays there. `lr_scaling="none"`
keeps the recipe's lr. The scheduler is stepped once per step (one step = one "epoch" of the
one-batch data set); ReduceLROnPlateau gets the previous step's loss (lagged by one step, so the
host never waits for the step just queued; under DDP the mean over the ranks, so that every rank
takes the same decision).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .errors import UsageError
from .target import Target, TargetError

FIELDS = (
    "target",
    "device",
    "dtype",
    "steps",
    "batch_size",
    "initial_loss",
    "ln_num_classes",
    "final_loss",
    "loss_curve",
    "loss_falls",
    "params_without_grad",
    "nonfinite",
    "images_per_second",
    "peak_memory_bytes",
    "flops_per_image",
    "achieved_tflops",
    "peak_share",
    "versions",
    "recipe",
    "options",
    "notes",
    "problems",
    "verdict",
)

# §5 recipe for targets that give none (and for --recipe paper): read from the spec, the one
# place that holds the paper's numbers.
def _paper_recipe() -> tuple[float, float, float, int]:
    """The §5 recipe (lr, momentum, weight decay, batch) as paper_spec.yaml states it."""
    from .spec import load_spec

    spec = load_spec()
    return (float(spec.item("train.lr").expected["weights"]), float(spec.item("train.momentum").expected),
            float(spec.item("train.weight_decay").expected["weights"]), int(spec.item("train.batch_size").expected))


PAPER_LR, PAPER_MOMENTUM, PAPER_WEIGHT_DECAY, PAPER_BATCH = _paper_recipe()
CPU_DEFAULT_BATCH = 8
INIT_LOSS_MARGIN = 2.0  # |initial_loss - ln C| above this flags the init / input scaling
FALL_RATIO = 0.75  # loss_falls: tail mean < FALL_RATIO * min(initial, ln C)
MAX_TAIL = 5

# Dense (no sparsity) peak TFLOP/s from NVIDIA's data sheets. First match of the substring in
# torch.cuda.get_device_name() wins; None means "not known" (peak_share is then null).
PEAK_TFLOPS: list[tuple[str, dict[str, float] | None]] = [
    ("H100 NVL", None),
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.0}),
    ("H100", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),  # SXM5
    ("H200", {"bf16": 989.0, "tf32": 494.0, "fp32": 67.0}),  # same SMs and clocks as H100 SXM
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
]


class SmokeFailure(RuntimeError):
    """The run itself failed (the target's forward raised, the DDP workers died): exit 1."""


# ------------------------------------------------------------------------------ pure helpers ---

def peak_tflops(device_name: str, basis: str) -> float | None:
    """The device's dense peak for `basis` (bf16, tf32, fp32), or None when unknown."""
    for key, peaks in PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return None if peaks is None else peaks.get(basis)
    return None


def default_warmup(steps: int) -> int:
    return max(1, min(3, steps // 4))


def tail_mean(curve: list[float]) -> float:
    n = max(1, min(MAX_TAIL, len(curve) // 4))
    tail = curve[-n:]
    return sum(tail) / len(tail)


def loss_falls(curve: list[float], ln_c: float) -> bool:
    """A clear fall: the tail mean is below FALL_RATIO x min(initial, ln C), and everything finite."""
    if len(curve) < 2 or not all(math.isfinite(v) for v in curve):
        return False
    return tail_mean(curve) < FALL_RATIO * min(curve[0], ln_c)


def judge(result: dict[str, Any], no_grad_names: list[str] | None = None) -> list[str]:
    """One line per problem found in a smoke result (empty: the target trains)."""
    problems: list[str] = []
    init, ln_c = result["initial_loss"], result["ln_num_classes"]
    c = round(math.exp(ln_c))
    if init is None or not math.isfinite(init):
        problems.append(f"initial loss is {init} (not finite)")
    elif abs(init - ln_c) > INIT_LOSS_MARGIN:
        side = "above" if init > ln_c else "below"
        problems.append(f"initial loss {init:.2f} is more than {INIT_LOSS_MARGIN:g} {side} ln({c})={ln_c:.2f}: "
                        "broken init or input scaling")
    if result["nonfinite"]:
        problems.append("NaN/Inf in the loss, the outputs or the gradients")
    n = result["params_without_grad"]
    if n:
        names = ", ".join((no_grad_names or [])[:5]) + (", ..." if no_grad_names and len(no_grad_names) > 5 else "")
        problems.append(f"{n} parameter{'s' if n != 1 else ''} received no finite non-zero gradient"
                        + (f" ({names})" if names else ""))
    if not result["loss_falls"]:
        curve = result["loss_curve"]
        tail = tail_mean(curve) if curve else float("nan")
        bound = FALL_RATIO * min(init, ln_c) if init is not None and math.isfinite(init) else float("nan")
        problems.append(f"loss did not fall: mean of the last steps {tail:.3g} is not below "
                        f"{FALL_RATIO:g} x min(initial {init:.3g}, ln C {ln_c:.3g}) = {bound:.3g}")
    return problems


def _r(x: float | None, nd: int = 5) -> float | None:
    if x is None:
        return None
    if not math.isfinite(x):
        return x  # json writes NaN/Infinity; kept visible on purpose
    return round(float(x), nd)


def _sig(x: float | None, digits: int = 4) -> float | None:
    if x is None or x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


# ---------------------------------------------------------------------------------- devices ---

def resolve_device(device: str) -> Any:
    """'auto' -> cuda when available, else cpu; 'cuda' without CUDA is a usage error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("CUDA is not available on this machine (use --device cpu or auto)")
        dev = torch.device(device)
        return torch.device("cuda", torch.cuda.current_device() if dev.index is None else dev.index)
    if device == "cpu":
        return torch.device("cpu")
    raise UsageError(f"unknown device {device!r} (auto, cuda or cpu)")


def device_name(dev: Any) -> str:
    import torch

    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"cpu: {cpu} ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str | None]:
    import torch

    try:
        import torchvision

        tv: str | None = torchvision.__version__
    except Exception:
        tv = None
    return {"torch": torch.__version__, "torchvision": tv, "cuda": torch.version.cuda}


class _CpuMemory:
    """Peak RSS growth of this process over the run (see the module docstring)."""

    def __init__(self) -> None:
        self.start = self._status("VmRSS")
        self.resettable = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.resettable = True
        except OSError:
            pass
        if self.start is None:
            self.start = self._maxrss()

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return None

    @staticmethod
    def _maxrss() -> int | None:
        try:
            import resource

            v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return v if sys.platform == "darwin" else v * 1024
        except Exception:
            return None

    def peak_growth(self) -> int | None:
        peak = self._status("VmHWM") if self.resettable else None
        if peak is None:
            peak = self._maxrss()
        if peak is None or self.start is None:
            return None
        return max(0, peak - self.start)


# ------------------------------------------------------------------------------------ recipe ---

def _build_recipe(target: Target, which: str, params: list[Any], global_batch: int, lr_scaling: str,
                  dev: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
    import torch
    import torch.nn as nn

    given = target.recipe if which == "target" else {}
    info: dict[str, Any] = {"source": which}
    if "optimizer" in given:
        try:
            opt = given["optimizer"](params)
        except Exception as exc:
            raise TargetError(f"building the target's optimizer failed: {type(exc).__name__}: {exc}") from None
        info["optimizer"] = f"target: {type(opt).__name__}"
        base_batch = given.get("batch_size") or PAPER_BATCH
    else:
        opt = torch.optim.SGD(params, lr=PAPER_LR, momentum=PAPER_MOMENTUM, weight_decay=PAPER_WEIGHT_DECAY)
        info["optimizer"] = f"paper: SGD(lr={PAPER_LR:g}, momentum={PAPER_MOMENTUM:g}, weight_decay={PAPER_WEIGHT_DECAY:g})"
        base_batch = PAPER_BATCH
    scale = global_batch / base_batch if lr_scaling == "linear" else 1.0
    if scale != 1.0:
        for group in opt.param_groups:
            group["lr"] = group["lr"] * scale
    info["recipe_batch_size"] = base_batch
    info["lr_scale"] = _r(scale, 6)
    info["lr"] = _sig(float(opt.param_groups[0]["lr"]), 6)
    sched = None
    if "scheduler" in given:
        try:
            sched = given["scheduler"](opt)
        except Exception as exc:
            raise TargetError(f"building the target's scheduler failed: {type(exc).__name__}: {exc}") from None
        info["scheduler"] = f"target: {type(sched).__name__}, stepped once per step"
    else:
        info["scheduler"] = None
    loss = given.get("loss")
    if loss is None:
        loss_fn: Any = nn.CrossEntropyLoss()
        info["loss"] = "paper: CrossEntropyLoss"
    else:
        loss_fn = loss if isinstance(loss, nn.Module) else loss()
        info["loss"] = f"target: {type(loss_fn).__name__}"
    if isinstance(loss_fn, nn.Module):
        loss_fn = loss_fn.to(dev)
    return opt, sched, loss_fn, info


def _is_plateau(sched: Any) -> bool:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return isinstance(sched, ReduceLROnPlateau)


# --------------------------------------------------------------------------------- the run ---

def run_smoke(
    target: Target,
    device: str = "auto",
    steps: int = 30,
    batch_size: int | None = None,
    recipe: str = "target",
    amp: str = "off",
    channels_last: bool = False,
    compile: bool = False,  # noqa: A002 - the CLI's option name
    progress: bool = True,
    *,
    seed: int = 0,
    warmup: int | None = None,
    lr_scaling: str = "linear",
    ddp: bool = False,
) -> dict[str, Any]:
    """Train `target` on one fixed synthetic batch for `steps` steps; the result has `FIELDS`."""
    import torch
    import torch.nn as nn

    if steps < 2:
        raise UsageError(f"--steps must be at least 2 (got {steps})")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size must be positive (got {batch_size})")
    if recipe not in ("target", "paper") or amp not in ("off", "bf16") or lr_scaling not in ("linear", "none"):
        raise UsageError(f"bad option: recipe={recipe!r} amp={amp!r} lr_scaling={lr_scaling!r}")
    warm = default_warmup(steps) if warmup is None else warmup
    if not 0 <= warm < steps:
        raise UsageError(f"warmup must be in [0, steps) (got {warm} for {steps} steps)")

    dist = None
    rank, world = 0, 1
    if ddp:
        import torch.distributed as dist  # type: ignore[no-redef]

        if not dist.is_initialized():
            raise UsageError("ddp=True needs an initialised process group (run under torchrun)")
        rank, world = dist.get_rank(), dist.get_world_size()
    dev = resolve_device(device)
    is_cuda = dev.type == "cuda"
    notes: list[str] = []

    if is_cuda:
        torch.cuda.set_device(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        cpu_mem = None
    else:
        cpu_mem = _CpuMemory()
    old_benchmark = torch.backends.cudnn.benchmark
    if is_cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels

    try:
        # ---- model
        torch.manual_seed(seed)
        try:
            model = target.model()
        except Exception as exc:
            raise TargetError(f"building the model failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise TargetError(f"the model factory returned {type(model).__name__}, not an nn.Module")
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(dev)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)

        # ---- FLOPs of one forward at batch 1 (also reads num_classes from the output)
        from torch.utils.flop_counter import FlopCounterMode

        probe = torch.randn(1, *target.input_size, device=dev).contiguous(memory_format=fmt)
        model.eval()
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                out1 = model(probe)
        except Exception as exc:
            raise SmokeFailure(f"the forward pass at batch 1 failed: {type(exc).__name__}: {exc}") from None
        model.train()
        if not isinstance(out1, torch.Tensor) or out1.dim() != 2:
            raise SmokeFailure(f"the model's output must be a (batch, classes) tensor (got {type(out1).__name__}"
                               f"{' of shape ' + str(tuple(out1.shape)) if isinstance(out1, torch.Tensor) else ''})")
        num_classes = target.num_classes or int(out1.shape[1])
        flops_per_image = int(counter.get_total_flops())
        del out1, probe

        # ---- data: one fixed batch on the device
        recipe_batch = target.recipe.get("batch_size") if recipe == "target" else None
        bs = batch_size or (int(recipe_batch or PAPER_BATCH) if is_cuda else CPU_DEFAULT_BATCH)
        g = torch.Generator().manual_seed(seed + 1000 * rank)
        x = torch.randn(bs, *target.input_size, generator=g).to(dev).contiguous(memory_format=fmt)
        y = torch.randint(0, num_classes, (bs,), generator=g).to(dev)

        # ---- recipe
        named = list(model.named_parameters())
        params = [p for _, p in named]
        opt, sched, loss_fn, recipe_info = _build_recipe(target, recipe, params, bs * world, lr_scaling, dev)
        plateau = sched is not None and _is_plateau(sched)

        # ---- wrappers
        net: Any = model
        if ddp:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(model, device_ids=[dev.index] if is_cuda else None)
        eager = net
        compiled = False
        if compile:
            try:
                net = torch.compile(net)
                compiled = True
            except Exception as exc:
                notes.append(f"torch.compile failed ({type(exc).__name__}: {_first_line(exc)}); ran eager")
        autocast = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if amp == "bf16" else contextlib.nullcontext

        def step_fn(module: Any) -> tuple[Any, Any]:
            opt.zero_grad(set_to_none=True)
            with autocast():
                out = module(x)
                loss = loss_fn(out, y)
            loss.backward()
            return out, loss

        def grad_maxabs() -> tuple[list[int], Any]:
            """Indices of params with a grad, and max |grad| of each (NaN/Inf propagate): one pass."""
            idx = [k for k, p in enumerate(params) if p.grad is not None]
            gs = [params[k].grad.detach() for k in idx]
            if not gs:
                return idx, torch.zeros(0, device=dev)
            try:
                norms = torch._foreach_norm(gs, ord=math.inf)
            except (AttributeError, RuntimeError, TypeError):
                norms = [torch.linalg.vector_norm(gr, ord=math.inf) for gr in gs]
            return idx, torch.stack([n.float() for n in norms])

        # ---- loop
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=f"smoke {target.name}", unit="step", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        losses: list[Any] = []
        bad = torch.zeros((), dtype=torch.bool, device=dev)
        no_grad_names: list[str] = []
        t0 = 0.0
        ev0 = ev1 = None
        prev_loss = None
        for i in range(steps):
            if i == warm:
                if is_cuda:
                    ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    torch.cuda.synchronize(dev)
                    ev0.record()
                t0 = time.perf_counter()
            try:
                if i == 0 and compiled:
                    try:
                        out, loss = step_fn(net)
                    except Exception as exc:  # compile errors surface at the first call
                        notes.append(f"torch.compile failed at the first step ({type(exc).__name__}: "
                                     f"{_first_line(exc)}); ran eager")
                        compiled, net = False, eager
                        out, loss = step_fn(net)
                else:
                    out, loss = step_fn(net)
            except (TargetError, UsageError):
                raise
            except Exception as exc:
                bar.close()
                raise SmokeFailure(f"training step {i} failed: {type(exc).__name__}: {_first_line(exc)}") from None
            if i in (0, steps - 1):
                idx, maxabs = grad_maxabs()
                bad |= ~torch.isfinite(maxabs).all()
                if i == 0:
                    ok = (torch.isfinite(maxabs) & (maxabs > 0)).tolist()
                    good = {k for k, fine in zip(idx, ok) if fine}
                    no_grad_names = [named[k][0] for k in range(len(params)) if k not in good]
            bad |= ~torch.isfinite(out.detach()).all()
            losses.append(loss.detach().float())
            opt.step()
            if sched is not None:
                if plateau:
                    if prev_loss is not None:
                        sched.step(float(prev_loss))
                else:
                    sched.step()
            prev_loss = losses[-1]
            if plateau and ddp:  # every rank must take the same lr decision: step on the mean loss
                prev_loss = prev_loss.detach().clone()
                dist.all_reduce(prev_loss, op=dist.ReduceOp.SUM)  # type: ignore[union-attr]
                prev_loss /= world
            bar.update(1)
            if i < warm and progress:
                bar.set_postfix(loss=f"{float(losses[-1]):.3f}")
        if is_cuda:
            assert ev0 is not None and ev1 is not None
            ev1.record()
            torch.cuda.synchronize(dev)
            elapsed = ev0.elapsed_time(ev1) / 1000.0
        else:
            elapsed = time.perf_counter() - t0

        curve_t = torch.stack(losses)
        stats = torch.tensor([elapsed, float(bad)], dtype=torch.float64)
        if ddp:
            assert dist is not None
            comm_dev = dev if is_cuda else torch.device("cpu")
            curve_t = curve_t.to(comm_dev)
            dist.all_reduce(curve_t, op=dist.ReduceOp.SUM)
            curve_t /= world
            stats = stats.to(comm_dev)
            dist.all_reduce(stats, op=dist.ReduceOp.MAX)
        curve = [float(v) for v in curve_t.cpu().tolist()]
        elapsed, nonfinite = float(stats[0]), bool(stats[1] > 0)
        bar.set_postfix(loss=f"{curve[-1]:.3f}")
        bar.close()

        if is_cuda:
            peak_mem: int | None = int(torch.cuda.max_memory_allocated(dev))
        else:
            assert cpu_mem is not None
            peak_mem = cpu_mem.peak_growth()
        if ddp and peak_mem is not None:
            t = torch.tensor([peak_mem], dtype=torch.float64, device=dev if is_cuda else "cpu")
            dist.all_reduce(t, op=dist.ReduceOp.MAX)  # type: ignore[union-attr]
            peak_mem = int(t.item())
    finally:
        torch.backends.cudnn.benchmark = old_benchmark

    timed = steps - warm
    ips = timed * bs * world / elapsed if elapsed > 0 else None
    achieved = 3.0 * flops_per_image * ips / 1e12 if ips and flops_per_image else None
    if amp == "bf16":
        basis = "bf16"
    elif is_cuda and torch.backends.cudnn.allow_tf32:
        basis = "tf32"
    else:
        basis = "fp32"
    name = device_name(dev)
    peak = peak_tflops(name, basis) if is_cuda else None
    share = achieved / (peak * world) if achieved is not None and peak else None
    if ddp:
        name = f"{name} x {world} processes ({'nccl' if is_cuda else 'gloo'})"
    ln_c = math.log(num_classes)
    result: dict[str, Any] = {
        "target": target.name,
        "device": name,
        "dtype": "bfloat16-autocast" if amp == "bf16" else "float32",
        "steps": steps,
        "batch_size": bs,
        "initial_loss": _r(curve[0]),
        "ln_num_classes": _r(ln_c),
        "final_loss": _r(curve[-1]),
        "loss_curve": [_r(v) for v in curve],
        "loss_falls": loss_falls(curve, ln_c),
        "params_without_grad": len(no_grad_names),
        "nonfinite": nonfinite or not all(math.isfinite(v) for v in curve),
        "images_per_second": _r(ips, 2),
        "peak_memory_bytes": peak_mem,
        "flops_per_image": flops_per_image,
        "achieved_tflops": _sig(achieved),
        "peak_share": _sig(share),
        "versions": versions(),
        "recipe": recipe_info,
        "options": {
            "amp": amp,
            "channels_last": channels_last,
            "compile": compiled,
            "ddp": ddp,
            "world_size": world,
            "warmup_steps": warm,
            "seed": seed,
            "num_classes": num_classes,
            "input_size": list(target.input_size),
            "lr_scaling": lr_scaling,
            "peak_basis": basis if peak else None,
            "flops": "forward only, batch 1; a training step ~3x",
            "timer": "cuda events" if is_cuda else "perf_counter",
        },
        "notes": notes,
    }
    result["problems"] = judge(result, no_grad_names)
    result["verdict"] = "fail" if result["problems"] else "ok"
    assert tuple(result) == FIELDS
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


# ---------------------------------------------------------------------------------- outputs ---

def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "target"


def summary_line(r: dict[str, Any]) -> str:
    ips = r["images_per_second"]
    flops = r["flops_per_image"]
    return (f"smoke {r['target']} on {r['device']}, {r['dtype']}: loss {r['initial_loss']:.3f} -> {r['final_loss']:.3f} "
            f"(ln {round(math.exp(r['ln_num_classes']))} = {r['ln_num_classes']:.3f}) in {r['steps']} steps at batch "
            f"{r['batch_size']}; {ips if ips is not None else 'n/a'} images/s; "
            f"{flops / 1e9:.3f} GFLOP/image (forward); verdict {r['verdict']}")


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")


def plot_curve(result: dict[str, Any], path: Path) -> None:
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


def markdown(result: dict[str, Any], image: str | None) -> str:
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


def write_markdown(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    base = f"smoke-{slug(result['target'])}"
    png = out_dir / f"{base}.png"
    plot_curve(result, png)
    md = out_dir / f"{base}.md"
    md.write_text(markdown(result, png.name))
    return [md, png]


# ---------------------------------------------------------------------------------------- DDP ---

def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def run_ddp(ref: str, *, nproc: int = 2, device: str = "auto", steps: int = 30, batch_size: int | None = None,
            recipe: str = "target", amp: str = "off", channels_last: bool = False, compile: bool = False,  # noqa: A002
            progress: bool = True, timeout: float | None = None) -> dict[str, Any]:
    """Run the smoke of target `ref` under torchrun with `nproc` DDP processes; rank 0's result."""
    import torch

    if nproc < 1:
        raise UsageError(f"--nproc must be positive (got {nproc})")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA is not available on this machine (use --device cpu or auto)")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and nproc > torch.cuda.device_count():
        raise UsageError(f"--nproc {nproc} exceeds the {torch.cuda.device_count()} visible CUDA device(s)")
    with tempfile.TemporaryDirectory(prefix="smoke-ddp-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", f"{__package__}.ddp_worker", ref, "--device", "cuda" if use_cuda else "cpu", "--steps", str(steps),
               "--recipe", recipe, "--amp", amp, "--result", str(result_path)]
        if batch_size is not None:
            cmd += ["--batch-size", str(batch_size)]
        if channels_last:
            cmd.append("--channels-last")
        if compile:
            cmd.append("--compile")
        if not progress:
            cmd.append("--no-progress")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_project_root()), *filter(None, [env.get("PYTHONPATH")])])
        if not use_cuda and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
        try:
            proc = subprocess.run(cmd, env=env, timeout=timeout, stdout=subprocess.PIPE, stderr=None, text=True)
        except subprocess.TimeoutExpired:
            raise SmokeFailure(f"the DDP run did not finish within {timeout:g} s") from None
        if proc.stdout:
            sys.stderr.write(proc.stdout)  # the workers' chatter; the summary goes to stdout
        if not result_path.exists():
            raise SmokeFailure(f"the DDP workers failed (torchrun exit {proc.returncode}); see the log above")
        data = json.loads(result_path.read_text())
    if "error" in data:
        kind = data.get("kind")
        if kind == "usage":
            raise UsageError(data["error"])
        if kind == "target":
            raise TargetError(data["error"])
        raise SmokeFailure(data["error"])
    return data


# ------------------------------------------------------------------------------------ command ---

def smoke_command(args: Any) -> int:
    """`alexnet-audit smoke`: 0 the target trains, 1 problems found or the run failed, 2 usage."""
    try:
        if args.ddp:
            result = run_ddp(args.target, nproc=args.nproc, device=args.device, steps=args.steps,
                             batch_size=args.batch_size, recipe=args.recipe, amp=args.amp,
                             channels_last=args.channels_last, compile=args.compile)
        else:
            from .resolve import load_target

            resolve_device(args.device)  # usage errors before the (slow) target load
            target = load_target(args.target)
            result = run_smoke(target, device=args.device, steps=args.steps, batch_size=args.batch_size,
                               recipe=args.recipe, amp=args.amp, channels_last=args.channels_last,
                               compile=args.compile, progress=True)
    except SmokeFailure as exc:
        print(f"alexnet-audit: smoke failed: {exc}", file=sys.stderr)
        return 1
    print(summary_line(result))
    for p in result["problems"]:
        print(f"  problem: {p}")
    for n in result["notes"]:
        print(f"  note: {n}")
    if args.json is not None:
        write_json(result, Path(args.json))
        print(f"wrote {args.json}")
    if args.out is not None:
        for path in write_markdown(result, Path(args.out)):
            print(f"wrote {path}")
    return 0 if result["verdict"] == "ok" else 1
