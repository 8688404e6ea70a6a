"""Recipe mutants: the paper's recipe (`base_recipe()`, full model) with ONE change each.

The base is `alexnet_ref.recipe()` with a real per-pixel mean image (§2) in place of alexnet_ref's
placeholder mean (the ImageNet channel means spread over 224x224, which audits as the accepted
per-channel variant): with the placeholder, a "per-channel mean" mutant would change nothing.
Audited, the base has no deviation and no variant among the recipe ids (tests/catalogues/test_mutants_recipe.py).

`deviates` lists exactly the ids that must be `deviation`, `variants` exactly those that must be
`variant`; every other training/data/evaluation/context id must be `pass` (or `skip` for the
paper-context items), and none may be `error`. `caused` lists the deviating ids that must name a
cause (`caused_by`); none in this catalogue: no recipe item is derived from another.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision import transforms as T

import alexnet_ref
from alexnet_ref.transforms import IMAGENET_MEAN_RGB, MeanSubtraction, PCALighting, TenCropToTensor
from tests.catalogues.mutants import Mutant

IMAGENET_STD = (0.229, 0.224, 0.225)


def mean_image(size: int = 224) -> torch.Tensor:
    """A 3 x size x size per-pixel mean image like ImageNet's: the channel means, brighter towards the
    centre and bluer towards the top (deterministic; what `MeanSubtraction.fit` gives on real data)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    centre = 0.06 * (1 - (xx**2 + yy**2) / 2)
    sky = torch.stack([torch.zeros_like(yy), torch.zeros_like(yy), -0.03 * yy])
    return torch.tensor(IMAGENET_MEAN_RGB).view(3, 1, 1) + centre + sky


def _mean(size: int = 224) -> MeanSubtraction:
    return MeanSubtraction(mean_image(size))


def base_recipe() -> dict[str, Any]:
    """alexnet_ref.recipe() with the §2 mean image (train and test) instead of the placeholder."""
    target = alexnet_ref.recipe(num_classes=1000)
    mean = _mean()
    target["train_transform"] = alexnet_ref.train_transform(mean=mean)
    target["eval_transform"] = alexnet_ref.eval_transform(mean=mean)
    return target


def _with(**changes: Any) -> Callable[[], dict[str, Any]]:
    """A target factory: the base recipe with `changes` applied (a value None removes the key)."""

    def build() -> dict[str, Any]:
        target = base_recipe()
        for key, value in changes.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value() if getattr(value, "_factory", False) else value  # fresh transforms
        return target

    return build


def _factory(fn: Callable[[], Any]) -> Callable[[], Any]:
    fn._factory = True  # type: ignore[attr-defined]
    return fn


def _paper_sgd(**kw: Any) -> Callable[[Any], Any]:
    def optimizer(params: Any) -> Any:
        args = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
        args.update(kw)
        return alexnet_ref.PaperSGD(params, **args)

    return optimizer


def _split_groups(weights: dict[str, Any], biases: dict[str, Any],
                  pick: Callable[[Any], bool] = lambda p: p.dim() <= 1) -> Callable[[Any], Any]:
    """PaperSGD with two groups: parameters for which `pick` holds get `biases`, the rest `weights`."""

    def optimizer(params: Any) -> Any:
        params = list(params)
        base = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
        groups = [{"params": [p for p in params if not pick(p)], **weights},
                  {"params": [p for p in params if pick(p)], **biases}]
        return alexnet_ref.PaperSGD([g for g in groups if g["params"]], **base)

    return optimizer


def _train(*, resize: list[Any] | None = None, flip: Any = "default", lighting: bool = True,
           normalise: Any = None) -> Callable[[], Any]:
    """The reference train pipeline with one step replaced."""

    @_factory
    def build() -> Any:
        geometry = resize if resize is not None else [T.Resize(256), T.CenterCrop(256), T.RandomCrop(224)]
        steps = list(geometry)
        if flip == "default":
            steps.append(T.RandomHorizontalFlip(0.5))
        elif flip is not None:
            steps.append(flip)
        steps.append(T.ToTensor())
        if lighting:
            steps.append(PCALighting())
        steps.append(normalise if normalise is not None else _mean())
        return T.Compose(steps)

    return build


_CROP = [T.Resize(256), T.CenterCrop(256), T.RandomCrop(224)]


class _SoftmaxThenCE(nn.Module):
    """CrossEntropyLoss applied to softmax outputs: a second softmax inside the loss."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits.softmax(dim=1), target)


@_factory
def _centre_crop_eval() -> Any:
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), _mean()])


@_factory
def _five_crop_eval() -> Any:
    return T.Compose([T.Resize(256), T.CenterCrop(256), T.FiveCrop(224), TenCropToTensor(_mean())])


def _m(name: str, doc: str, deviates: set[str] = frozenset(), variants: set[str] = frozenset(),
       skips: set[str] = frozenset(), **changes: Any) -> Mutant:
    return Mutant(name=name, doc=doc, build=_with(**changes), deviates=frozenset(deviates),
                  variants=frozenset(variants), skips=frozenset(skips))


# A per-channel mean (3x1x1), the accepted simplification of the §2 mean image.
_PER_CHANNEL = torch.tensor(IMAGENET_MEAN_RGB).view(3, 1, 1)


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ optimizer (§5) ----------
    _m("recipe-adam", "Adam(lr=0.01, weight_decay=5e-4) instead of momentum SGD.",
       {"train.optimizer", "train.update_rule"}, skips={"train.momentum"},  # Adam has no momentum to read
       optimizer=lambda params: torch.optim.Adam(params, lr=0.01, weight_decay=5e-4)),
    _m("recipe-nesterov", "torch.optim.SGD with nesterov=True.", {"train.optimizer", "train.update_rule"},
       optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True)),
    _m("recipe-dampening", "torch.optim.SGD with dampening=0.1.", {"train.optimizer", "train.update_rule"},
       optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4, dampening=0.1)),
    _m("recipe-momentum-0.5", "Momentum 0.5 instead of 0.9.", {"train.momentum"}, optimizer=_paper_sgd(momentum=0.5)),
    _m("recipe-weight-decay-1e-4", "Weight decay 1e-4 (torchvision's) instead of 5e-4.", {"train.weight_decay"},
       optimizer=_paper_sgd(weight_decay=1e-4)),
    _m("recipe-lr-0.1", "Initial learning rate 0.1 instead of 0.01.", {"train.lr"}, optimizer=_paper_sgd(lr=0.1)),
    _m("recipe-per-layer-lr", "fc8 (1000-row weight and bias) gets lr 0.001, the other layers 0.01.", {"train.lr"},
       optimizer=_split_groups({}, {"lr": 0.001}, pick=lambda p: p.shape[0] == 1000)),
    _m("recipe-torch-sgd", "torch.optim.SGD (lr outside the momentum buffer) instead of the §5 rule.",
       variants={"train.update_rule"},
       optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)),
    _m("recipe-bias-lr-x2", "Biases learn at twice the weight rate (authors' code, Caffe).", variants={"train.lr"},
       optimizer=_split_groups({}, {"lr": 0.02})),
    _m("recipe-no-bias-decay", "No weight decay on biases (authors' code, Caffe).", variants={"train.weight_decay"},
       optimizer=_split_groups({}, {"weight_decay": 0.0})),
    # ------------------------------------------------------------------ schedule, sizes -----------
    _m("recipe-steplr-2-drops", "StepLR(30, 0.1) over 90 epochs (torchvision's): two fixed drops.",
       {"train.lr_schedule"}, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 30, 0.1)),
    _m("recipe-steplr-3-drops", "StepLR(25, 0.1) over 90 epochs: three fixed /10 drops.",
       variants={"train.lr_schedule"}, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 25, 0.1)),
    _m("recipe-constant-lr", "A scheduler that never changes the learning rate.", {"train.lr_schedule"},
       scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)),
    _m("recipe-batch-256", "Batch size 256 (Caffe, torchvision) instead of 128.", {"train.batch_size"},
       batch_size=256),
    _m("recipe-epochs-30", "30 epochs instead of about 90.", {"train.epochs"}, epochs=30),
    # ------------------------------------------------------------------ loss (§3.5) ----------------
    _m("recipe-label-smoothing", "CrossEntropyLoss(label_smoothing=0.1).", {"train.loss", "train.extra_techniques"},
       loss=nn.CrossEntropyLoss(label_smoothing=0.1)),
    _m("recipe-mse-loss", "MSELoss against one-hot targets.", {"train.loss"}, loss=nn.MSELoss()),
    _m("recipe-extra-softmax", "Cross-entropy of softmax outputs (softmax applied twice).", {"train.loss"},
       loss=_SoftmaxThenCE()),
    _m("recipe-sum-loss", "CrossEntropyLoss(reduction='sum') (batch sum, not mean).", {"train.loss"},
       loss=nn.CrossEntropyLoss(reduction="sum")),
    # ------------------------------------------------------------------ data (§2, §4.1) -------------
    _m("recipe-warp-resize", "Resize((256, 256)) warps the image instead of keeping its aspect ratio.",
       {"data.resize"}, train_transform=_train(resize=[T.Resize((256, 256)), T.RandomCrop(224)])),
    _m("recipe-random-resized-crop", "RandomResizedCrop(224) (torchvision) instead of resize + random 224 crop.",
       {"data.resize", "data.random_crop"}, train_transform=_train(resize=[T.RandomResizedCrop(224)])),
    _m("recipe-no-center-crop", "Resize(256) then RandomCrop(224) over the whole image (no central 256 crop).",
       {"data.resize"}, train_transform=_train(resize=[T.Resize(256), T.RandomCrop(224)])),
    _m("recipe-no-flip", "No horizontal reflections.", {"data.hflip"}, train_transform=_train(flip=None)),
    _m("recipe-flip-always", "RandomHorizontalFlip(p=1.0): every patch mirrored.", {"data.hflip"},
       train_transform=_train(flip=T.RandomHorizontalFlip(1.0))),
    _m("recipe-no-pca-lighting", "No PCA colour augmentation.", {"data.pca_lighting"},
       train_transform=_train(lighting=False)),
    _m("recipe-imagenet-normalize", "Normalize(ImageNet mean, std): divides by a per-channel std.",
       {"data.mean_subtraction"},
       train_transform=_train(normalise=T.Normalize(IMAGENET_MEAN_RGB, IMAGENET_STD))),
    _m("recipe-per-channel-mean", "A 3x1x1 per-channel mean instead of the mean image.",
       variants={"data.mean_subtraction"},
       train_transform=_train(normalise=MeanSubtraction(_PER_CHANNEL))),
    _m("recipe-227-crops", "Random 227x227 crops (Caffe's size, the 227-input variant) less a 227x227 mean image.",
       variants={"data.random_crop"},
       train_transform=_train(resize=[T.Resize(256), T.CenterCrop(256), T.RandomCrop(227)], normalise=_mean(227))),
    # Extra augmentation also moves what the other data probes read (colour noise, crop windows): those
    # items deviate with it, measured, and are listed. The mean image still reads as one (the draws' median).
    _m("recipe-colour-jitter", "ColorJitter(0.4, 0.4, 0.4) after the crop.",
       {"data.extra_augmentation", "data.pca_lighting", "data.random_crop", "data.resize"},
       train_transform=_train(resize=[*_CROP, T.ColorJitter(0.4, 0.4, 0.4)])),
    _m("recipe-rotation", "RandomRotation(15) after the crop.",
       {"data.extra_augmentation", "data.random_crop", "data.resize"},
       train_transform=_train(resize=[*_CROP, T.RandomRotation(15)])),
    _m("recipe-vertical-flip", "RandomVerticalFlip() besides the horizontal one.", {"data.extra_augmentation"},
       train_transform=_train(resize=[*_CROP, T.RandomVerticalFlip()])),
    _m("recipe-random-erasing", "RandomErasing(p=0.5) after the mean subtraction.", {"data.extra_augmentation"},
       train_transform=_train(normalise=T.Compose([_mean(), T.RandomErasing(p=0.5)]))),
    _m("recipe-trivial-augment", "TrivialAugmentWide() after the crop.",
       {"data.extra_augmentation", "data.pca_lighting", "data.resize"},
       train_transform=_train(resize=[*_CROP, T.TrivialAugmentWide()])),
    # ------------------------------------------------------------------ techniques (§5) -------------
    _m("recipe-grad-clip", "clip_grad_norm_(max_norm=5) in the training loop.", {"train.extra_techniques"},
       techniques={"grad_clip": {"max_norm": 5.0}}),
    _m("recipe-ema", "An EMA of the weights (decay 0.9999) used for evaluation.", {"train.extra_techniques"},
       techniques={"ema": {"decay": 0.9999, "eval": True}}),
    _m("recipe-amp", "Mixed precision: autocast float16 with a GradScaler.", variants={"train.extra_techniques"},
       techniques={"amp": {"dtype": "float16", "grad_scaler": True}}),
    # ------------------------------------------------------------------ evaluation (§4.1) -----------
    _m("recipe-centre-crop-eval", "Single centre 224 crop at test time instead of ten patches.", {"eval.ten_crop"},
       eval_transform=_centre_crop_eval),
    _m("recipe-five-crop-eval", "Corners + centre without their mirrors (five patches).", {"eval.ten_crop"},
       eval_transform=_five_crop_eval),
]
