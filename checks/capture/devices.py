"""Scripts written for a GPU run on this CPU (child side): every CUDA placement becomes a CPU one.

A TorchFunctionMode sees every torch call, factories included, so `.cuda()`, `.to("cuda")`,
`.to(torch.device("cuda:0"))`, `device="cuda"` and `pin_memory()` need no edit in the user's
code; `torch.cuda.set_device`, streams and events become harmless stand-ins.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from .record import Recorder


def _cpu(value: Any) -> Any:
    import torch

    if isinstance(value, str) and value.split(":")[0] == "cuda":
        return "cpu"
    if isinstance(value, torch.device) and value.type == "cuda":
        return torch.device("cpu")
    return value


class _Stream:
    """A CUDA stream or event that does nothing (everything is synchronous on the CPU)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def install(rec: Recorder) -> Any:
    """Enter the CPU mode for the whole process (only when no GPU exists); returns the mode or None."""
    import torch
    from torch.overrides import TorchFunctionMode

    if torch.cuda.is_available():
        return None
    Tensor = torch.Tensor
    passthrough = {Tensor.cuda, Tensor.pin_memory}
    ignored = {Tensor.record_stream}
    seen: set[str] = set()

    class CpuMode(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            if func in passthrough:
                _saw(func.__name__)
                return args[0]
            if func in ignored:
                return None
            if func is Tensor.to or func is torch.Tensor.to:
                args = tuple(_cpu(a) for a in args)
            if "device" in kwargs:
                kwargs = {**kwargs, "device": _cpu(kwargs["device"])}
            return func(*args, **kwargs)

    def _saw(name: str) -> None:
        if name not in seen:
            seen.add(name)
            rec.note(f"no GPU here: {name}() calls ran on the CPU")

    cuda = torch.cuda
    nothing = lambda *a, **k: None  # noqa: E731
    for name, value in (("set_device", nothing), ("Stream", _Stream), ("Event", _Stream),
                        ("current_stream", lambda *a, **k: _Stream()), ("synchronize", nothing),
                        ("stream", lambda *a, **k: contextlib.nullcontext()), ("empty_cache", nothing)):
        setattr(cuda, name, value)
    mode = CpuMode()
    mode.__enter__()
    return mode


def install_distributed(rec: Recorder) -> None:
    """`mp.spawn` over GPU ids and `init_process_group` (NCCL, N ranks) run as one process: rank 0 of a
    world of one, on gloo without a GPU; the world size asked for is recorded (it scales the batch)."""
    import tempfile

    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp

    def spawn(fn: Any, args: tuple[Any, ...] = (), nprocs: int = 1, *rest: Any, **kwargs: Any) -> None:
        rec.note(f"mp.spawn of {nprocs} processes ran as one (rank 0)")
        fn(0, *args)

    mp.spawn = spawn
    init = dist.init_process_group

    def init_process_group(backend: Any = None, *args: Any, **kwargs: Any) -> Any:
        world = kwargs.get("world_size", -1)
        if isinstance(world, int) and world > 1:
            rec.data["world_size"] = world
        if not torch.cuda.is_available():
            backend = "gloo"
        store = tempfile.mktemp(prefix="dist-", dir=".")
        rec.note(f"init_process_group({kwargs.get('world_size', '?')} ranks) ran as a world of one ({backend})")
        return init(backend=backend, init_method=f"file://{Path(store).resolve()}", world_size=1, rank=0)

    dist.init_process_group = init_process_group
    ddp = torch.nn.parallel.DistributedDataParallel
    ddp_init = ddp.__init__

    def ddp_init_cpu(self: Any, module: Any, *args: Any, **kwargs: Any) -> None:
        if not torch.cuda.is_available():  # a CPU module takes no device ids
            kwargs.pop("device_ids", None)
            kwargs.pop("output_device", None)
            args = ()
        ddp_init(self, module, *args, **kwargs)

    setattr(ddp, "__init__", ddp_init_cpu)  # noqa: B010 (mypy refuses a method assignment)
