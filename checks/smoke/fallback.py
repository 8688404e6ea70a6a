"""The optimizer, scheduler and loss of a smoke run: the target's where it gives them, else §5's.

The paper's recipe (§5: SGD, lr 0.01, momentum 0.9, weight decay 5e-4, batch 128) is read from
the Spec the caller passes in, the one place that holds the paper's numbers.

When the global batch B differs from the recipe's B0, every param group's lr is multiplied by
B / B0 before the scheduler is built (the linear scaling rule, Goyal et al. 2017), so each
example moves the weights as much as in the recipe: on the reference at batch 8 the unscaled
lr 0.01 (16x the per-example step of batch 128) sends the fixed-batch loss from 7.8 to 3.2 and
then up to ~57 within 5 steps; scaled, it falls to ~3-4 and stays there.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import first_line
from ..core.numbers import sig
from ..target.record import Target, TargetError
from .options import SmokeOptions

if TYPE_CHECKING:
    import torch

    from ..spec.load import Spec

CPU_DEFAULT_BATCH = 8


@dataclass(frozen=True)
class PaperRecipe:
    """§5's optimizer settings and batch size, as the spec states them."""

    lr: float
    momentum: float
    weight_decay: float
    batch_size: int

    @classmethod
    def from_spec(cls, spec: Spec) -> PaperRecipe:
        from ..spec.load import SpecError

        def expected(item_id: str) -> Any:
            try:
                return spec.item(item_id).expected
            except KeyError:
                raise SpecError(f"{spec.path}: the smoke run needs item '{item_id}' (the §5 recipe)") from None

        try:
            return cls(lr=float(expected("train.lr")["weights"]), momentum=float(expected("train.momentum")),
                       weight_decay=float(expected("train.weight_decay")["weights"]),
                       batch_size=int(expected("train.batch_size")))
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"{spec.path}: the §5 recipe items do not hold numbers ({first_line(exc)})") from None

    def describe(self) -> str:
        return f"paper: SGD(lr={self.lr:g}, momentum={self.momentum:g}, weight_decay={self.weight_decay:g})"


@dataclass(frozen=True)
class RecipeInfo:
    """What was built, for the result's `recipe` field (the field order is the JSON's)."""

    source: str
    optimizer: str
    recipe_batch_size: int
    lr_scale: float
    lr: float
    scheduler: str | None
    loss: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recipe:
    """The live objects of a run's recipe."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: Any
    info: RecipeInfo

    @property
    def plateau(self) -> bool:
        """ReduceLROnPlateau needs a loss at every step, the others do not."""
        from torch.optim.lr_scheduler import ReduceLROnPlateau

        return isinstance(self.scheduler, ReduceLROnPlateau)


def given_recipe(target: Target, options: SmokeOptions) -> dict[str, Any]:
    """The target's recipe, or nothing when the run always uses the paper's."""
    return target.recipe if options.recipe == "target" else {}


def default_batch(target: Target, options: SmokeOptions, paper: PaperRecipe, is_cuda: bool) -> int:
    """--batch-size, else the recipe's on CUDA and CPU_DEFAULT_BATCH on CPU."""
    if options.batch_size is not None:
        return options.batch_size
    if not is_cuda:
        return CPU_DEFAULT_BATCH
    return int(given_recipe(target, options).get("batch_size") or paper.batch_size)


def _target_call(what: str, fn: Any, arg: Any) -> Any:
    try:
        return fn(arg)
    except Exception as exc:
        raise TargetError(f"building the target's {what} failed: {type(exc).__name__}: {exc}") from None


def build_recipe(target: Target, options: SmokeOptions, paper: PaperRecipe, params: list[Any], global_batch: int,
                 dev: torch.device) -> Recipe:
    """Optimizer (lr scaled to the global batch), scheduler and loss for `params` on `dev`."""
    import torch
    import torch.nn as nn

    given = given_recipe(target, options)
    if "optimizer" in given:
        opt = _target_call("optimizer", given["optimizer"], params)
        opt_text = f"target: {type(opt).__name__}"
        base_batch = int(given.get("batch_size") or paper.batch_size)
    else:
        opt = torch.optim.SGD(params, lr=paper.lr, momentum=paper.momentum, weight_decay=paper.weight_decay)
        opt_text = paper.describe()
        base_batch = paper.batch_size
    scale = global_batch / base_batch if options.lr_scaling == "linear" else 1.0
    if scale != 1.0:
        for group in opt.param_groups:
            group["lr"] = group["lr"] * scale
    sched = None
    sched_text = None
    if "scheduler" in given:
        sched = _target_call("scheduler", given["scheduler"], opt)
        sched_text = f"target: {type(sched).__name__}, stepped once per step"
    loss = given.get("loss")
    if loss is None:
        loss_fn: Any = nn.CrossEntropyLoss()
        loss_text = "paper: CrossEntropyLoss"
    else:
        loss_fn = loss if isinstance(loss, nn.Module) else loss()
        loss_text = f"target: {type(loss_fn).__name__}"
    if isinstance(loss_fn, nn.Module):
        loss_fn = loss_fn.to(dev)
    info = RecipeInfo(source=options.recipe, optimizer=opt_text, recipe_batch_size=base_batch,
                      lr_scale=round(scale, 6), lr=sig(float(opt.param_groups[0]["lr"]), 6), scheduler=sched_text,
                      loss=loss_text)
    return Recipe(optimizer=opt, scheduler=sched, loss_fn=loss_fn, info=info)
