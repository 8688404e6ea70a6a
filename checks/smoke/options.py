"""The options of a smoke run, defined once: the CLI, the DDP worker and the library all read this.

`SmokeOptions` is what shapes one training run; each field carries its command-line flag in its
metadata, so `add_arguments`, `from_args` and `to_argv` (how `run_ddp` hands the options to its
workers) cannot drift apart. `CommandOptions` adds what only `alexnet-audit smoke` has: the
target, the DDP launch and the output files. Invalid values raise a one-line `UsageError`.
"""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ..core.errors import UsageError

RECIPES = ("target", "paper")
AMPS = ("off", "bf16")
LR_SCALINGS = ("linear", "none")
DEVICES = ("auto", "cuda", "cpu")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def _flag(flag: str, **argparse_kwargs: Any) -> Mapping[str, Any]:
    """Field metadata: the flag and the argparse keywords that define it on the command line."""
    return {"flag": flag, "argparse": argparse_kwargs}


def default_warmup(steps: int) -> int:
    """Steps left out of the timing when none are given: the first quarter, 1 to 3 of them."""
    return max(1, min(3, steps // 4))


@dataclass(frozen=True)
class SmokeOptions:
    """How one smoke run trains and measures; validated on construction."""

    device: str = field(default="auto", metadata=_flag(
        "--device", choices=DEVICES, help="auto: cuda when available, else cpu (default auto)"))
    steps: int = field(default=30, metadata=_flag("--steps", type=int, help="training steps, at least 2 (default 30)"))
    batch_size: int | None = field(default=None, metadata=_flag(
        "--batch-size", type=int, help="per process (default: the recipe's on CUDA, 8 on CPU)"))
    recipe: Literal["target", "paper"] = field(default="target", metadata=_flag(
        "--recipe", choices=RECIPES, help="the target's optimizer/scheduler/loss, or always the paper's §5 recipe"))
    amp: Literal["off", "bf16"] = field(default="off", metadata=_flag(
        "--amp", choices=AMPS, help="bf16 autocast (default off)"))
    channels_last: bool = field(default=False, metadata=_flag("--channels-last", action="store_true"))
    compile: bool = field(default=False, metadata=_flag(
        "--compile", action="store_true", help="torch.compile the model (falls back to eager)"))
    seed: int = field(default=0, metadata=_flag("--seed", type=int, help="seed of the init and the batch (default 0)"))
    warmup: int | None = field(default=None, metadata=_flag(
        "--warmup", type=int, help="steps excluded from the timing (default min(3, steps // 4), at least 1)"))
    lr_scaling: Literal["linear", "none"] = field(default="linear", metadata=_flag(
        "--lr-scaling", choices=LR_SCALINGS, help="scale the lr by global batch / recipe batch (default linear)"))
    progress: bool = field(default=True, metadata=_flag(
        "--no-progress", action="store_false", help="no progress bar on stderr"))
    spec: Path | None = field(default=None, metadata=_flag(
        "--spec", type=Path, help="spec file for the paper's recipe (default: the packaged paper_spec.yaml)"))

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise UsageError(f"unknown device {self.device!r} (auto, cuda or cpu)")
        if self.steps < 2:
            raise UsageError(f"--steps must be at least 2 (got {self.steps})")
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be positive (got {self.batch_size})")
        for flag, value, allowed in (("--recipe", self.recipe, RECIPES), ("--amp", self.amp, AMPS),
                                     ("--lr-scaling", self.lr_scaling, LR_SCALINGS)):
            if value not in allowed:
                raise UsageError(f"{flag} must be one of {', '.join(allowed)} (got {value!r})")
        if not 0 <= self.warmup_steps < self.steps:
            raise UsageError(f"--warmup must be in [0, steps) (got {self.warmup_steps} for {self.steps} steps)")

    @property
    def warmup_steps(self) -> int:
        return default_warmup(self.steps) if self.warmup is None else self.warmup

    @classmethod
    def from_args(cls, ns: argparse.Namespace) -> SmokeOptions:
        return cls(**{f.name: getattr(ns, f.name) for f in fields(cls)})

    def to_argv(self) -> list[str]:
        """The flags that rebuild these options through `add_arguments` (defaults left out)."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            flag, kwargs = f.metadata["flag"], f.metadata["argparse"]
            argv += [flag] if kwargs.get("action") in ("store_true", "store_false") else [flag, str(value)]
        return argv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `SmokeOptions` flags, with the dataclass's defaults."""
    for f in fields(SmokeOptions):
        parser.add_argument(f.metadata["flag"], dest=f.name, default=f.default, **f.metadata["argparse"])


@dataclass(frozen=True)
class CommandOptions:
    """`alexnet-audit smoke`: the run's options plus the target, the DDP launch and the outputs."""

    target: str
    run: SmokeOptions
    ddp: bool = False
    nproc: int = 2
    json: Path | None = None
    out: Path | None = None
    timeout: float = 3600.0

    def __post_init__(self) -> None:
        if self.nproc < 1:
            raise UsageError(f"--nproc must be positive (got {self.nproc})")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise UsageError(f"--timeout takes a number of seconds > 0 (got {self.timeout})")

    @classmethod
    def from_args(cls, ns: argparse.Namespace) -> CommandOptions:
        return cls(target=ns.target, run=SmokeOptions.from_args(ns), ddp=ns.ddp, nproc=ns.nproc, json=ns.json,
                   out=ns.out, timeout=ns.timeout)


def add_command_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of `alexnet-audit smoke`."""
    parser.add_argument("target", help="registered name, module:attr, path/file.py:attr or manifest.yaml")
    add_arguments(parser)
    parser.add_argument("--ddp", action="store_true", help="run under torchrun with DistributedDataParallel")
    parser.add_argument("--nproc", type=int, default=2, help="processes for --ddp (default 2)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    parser.add_argument("--out", type=Path, default=None, help="directory for the markdown section and loss curve")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds the run may take (default 3600); the target trains in its own process")
