"""What a repository's source says about how its network is built and fed (read, never run).

- `size_hints`: the image sizes its transforms produce (crops first, then resizes), then sizes its
  configuration names (`image_size: 227`, `--img-size 224`, `IMAGE_SIZE = 227`);
- `datasets`: the datasets it loads (CIFAR-10's 32 x 32 images and 10 classes, ...);
- `call_sites`: where it calls a candidate with literal arguments (`AlexNet(num_classes=10)`);
- `init_uses`: where a script builds a candidate and then initialises it with a function of its
  own (`model.apply(weights_init)`, `init_weights(model)`); `init_functions`: such functions;
- `config_loaders`: its functions that turn a YAML file into a configuration object.

Pure: no torch, nothing of the repository imported.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .scan import callee_name, dotted
from .sources import Unit

CROPS = frozenset({"RandomCrop", "CenterCrop", "RandomResizedCrop", "RandomSizedCrop", "FiveCrop", "TenCrop"})
RESIZES = frozenset({"Resize", "Scale"})
SIZE_KEYS = frozenset({"input_size", "image_size", "img_size", "crop_size", "imsize", "image_res", "resolution",
                       "input_res", "img_res", "crop"})
DATASETS: dict[str, tuple[int | None, int]] = {  # name -> (image side, classes)
    "CIFAR10": (32, 10), "CIFAR100": (32, 100), "SVHN": (32, 10), "STL10": (96, 10), "ImageNet": (None, 1000),
}
_DATASET_TEXT = {"cifar10": "CIFAR10", "cifar-10": "CIFAR10", "cifar_10": "CIFAR10", "cifar100": "CIFAR100",
                 "cifar-100": "CIFAR100", "cifar_100": "CIFAR100", "imagenet": "ImageNet"}
INIT_NAME = re.compile(r"^_?(weights?_?init\w*|init\w*_?(weights?|params|parameters|model|net)\w*|"
                       r"initiali[sz]e\w*|reset_parameters)$", re.IGNORECASE)
LOADER_NAME = re.compile(r"^(load|get|read|parse|build|make|from)_?(yaml|config|cfg|conf|settings|hparams|options)"
                         r"\w*$", re.IGNORECASE)
LOADER_METHODS = frozenset({"from_yaml", "from_file", "load_yaml", "from_path", "from_yaml_file"})
MIN_SIDE, MAX_SIDE = 8, 1024
NOT_LITERAL = object()


@dataclass(frozen=True)
class SizeHint:
    side: int
    rank: int  # 0: a crop, 1: a resize to (h, w), 2: a resize of the short side, 3: configured
    what: str
    where: str


def _constants(unit: Unit) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in unit.tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
    return out


def _value(node: ast.expr | None, consts: Mapping[str, Any]) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def side_of(value: Any) -> int | None:
    """A square side from an int, an (h, w) pair with h == w, or a (C, H, W) triple."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        side = value
    elif isinstance(value, list | tuple) and len(value) in (2, 3) and all(isinstance(v, int) for v in value):
        h, w = value[-2], value[-1]
        if h != w:
            return None
        side = h
    else:
        return None
    return side if MIN_SIDE <= side <= MAX_SIDE else None


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _call_hint(node: ast.Call, consts: Mapping[str, Any], unit: Unit) -> SizeHint | None:
    name = callee_name(node)
    where = unit.where(node.lineno)
    first = node.args[0] if node.args else None
    if name in CROPS | RESIZES:
        height, width = _value(_kw(node, "height"), consts), _value(_kw(node, "width"), consts)
        if height is None and len(node.args) >= 2:  # albumentations: Crop(height, width)
            height, width = _value(node.args[0], consts), _value(node.args[1], consts)
        value = (height, width) if height is not None else _value(_kw(node, "size") or first, consts)
        side = side_of(value)
        if side is None:
            return None
        rank = 0 if name in CROPS else (1 if isinstance(value, list | tuple) else 2)
        return SizeHint(side, rank, f"{name}({side})", where)
    for k in node.keywords:
        if k.arg in SIZE_KEYS and (side := side_of(_value(k.value, consts))):
            return SizeHint(side, 3, f"{k.arg}={side}", where)
    if name == "add_argument" and isinstance(first, ast.Constant) and isinstance(first.value, str):
        key = first.value.lstrip("-").replace("-", "_").lower()
        if key in SIZE_KEYS and (side := side_of(_value(_kw(node, "default"), consts))):
            return SizeHint(side, 3, f"{first.value} default {side}", where)
    return None


def size_hints(units: Iterable[Unit], configs: Mapping[str, Any]) -> list[SizeHint]:
    """Every size hint, in file order (`configs`: YAML file rel path -> its data)."""
    out: list[SizeHint] = []
    for unit in units:
        consts = _constants(unit)
        for name, value in consts.items():
            if name.lower() in SIZE_KEYS and (side := side_of(value)):
                out.append(SizeHint(side, 3, f"{name} = {side}", unit.where()))
        for node in ast.walk(unit.tree):
            if isinstance(node, ast.Call) and (hint := _call_hint(node, consts, unit)):
                out.append(hint)
    for rel, data in configs.items():
        for key, value in yaml_items(data):
            if str(key).lower() in SIZE_KEYS and (side := side_of(value)):
                out.append(SizeHint(side, 3, f"{key}: {side}", rel))
    return out


def yaml_items(data: Any, depth: int = 0) -> Iterable[tuple[Any, Any]]:
    if depth > 6:
        return
    if isinstance(data, Mapping):
        for k, v in data.items():
            yield k, v
            yield from yaml_items(v, depth + 1)
    elif isinstance(data, list):
        for v in data[:200]:
            yield from yaml_items(v, depth + 1)


def datasets(units: Iterable[Unit], configs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dataset, where) for each known dataset the source names, first mention first."""
    seen: dict[str, str] = {}
    for unit in units:
        for node in ast.walk(unit.tree):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
            if name in DATASETS:
                seen.setdefault(name, unit.where(getattr(node, "lineno", None)))
    for rel, data in configs.items():
        for _, value in yaml_items(data):
            if isinstance(value, str) and value.strip().lower() in _DATASET_TEXT:
                seen.setdefault(_DATASET_TEXT[value.strip().lower()], rel)
    return list(seen.items())


@dataclass(frozen=True)
class CallSite:
    callee: str
    args: tuple[Any, ...]  # NOT_LITERAL where an argument is not a literal
    kwargs: Mapping[str, Any]
    where: str


def call_sites(units: Iterable[Unit], names: set[str]) -> list[CallSite]:
    """Calls of `names` in the source, with their literal arguments."""
    out = []
    for unit in units:
        consts = _constants(unit)
        for node in ast.walk(unit.tree):
            if not isinstance(node, ast.Call) or callee_name(node) not in names:
                continue
            if any(isinstance(a, ast.Starred) for a in node.args):
                continue
            args = tuple(v if (v := _value(a, consts)) is not None else NOT_LITERAL for a in node.args)
            kwargs = {k.arg: v if (v := _value(k.value, consts)) is not None else NOT_LITERAL
                      for k in node.keywords if k.arg}
            out.append(CallSite(callee_name(node), args, kwargs, unit.where(node.lineno)))
    return out


@dataclass(frozen=True)
class InitUse:
    model: str  # the candidate built
    function: str  # the init function's name ("" when it is not a plain name)
    style: str  # "apply" (model.apply(fn)) or "call" (fn(model))
    text: str
    where: str


@dataclass
class _Bindings:
    names: dict[str, str] = field(default_factory=dict)  # variable -> candidate built into it


def _built(value: ast.expr, models: set[str]) -> str:
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and callee_name(value) in (
            "to", "cuda", "cpu", "float", "double", "half"):
        value = value.func.value
    return callee_name(value) if isinstance(value, ast.Call) and callee_name(value) in models else ""


def init_uses(units: Iterable[Unit], models: set[str]) -> list[InitUse]:
    """`m = Net(...)` followed by `m.apply(fn)` or `init_fn(m)` (and `Net(...).apply(fn)`), anywhere."""
    bound: dict[str, _Bindings] = {}  # one scope per file or notebook (cells share their names)
    out: list[InitUse] = []
    units = list(units)
    for unit in units:
        b = bound.setdefault(unit.rel, _Bindings())
        for node in ast.walk(unit.tree):
            if isinstance(node, ast.Assign) and (model := _built(node.value, models)):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        b.names[t.id] = model
    for unit in units:
        b = bound[unit.rel]
        for node in ast.walk(unit.tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            fn, arg = node.func, node.args[0]
            if isinstance(fn, ast.Attribute) and fn.attr == "apply" and len(node.args) == 1:
                model = b.names.get(fn.value.id, "") if isinstance(fn.value, ast.Name) else _built(fn.value, models)
                if model:
                    name = arg.id if isinstance(arg, ast.Name) else ""
                    out.append(InitUse(model, name, "apply", ast.unparse(node), unit.where(node.lineno)))
            elif isinstance(fn, ast.Name) and INIT_NAME.match(fn.id) and isinstance(arg, ast.Name) \
                    and arg.id in b.names:
                out.append(InitUse(b.names[arg.id], fn.id, "call", ast.unparse(node), unit.where(node.lineno)))
    return out


def init_functions(units: Iterable[Unit]) -> list[tuple[str, str]]:
    """(name, where) of module-level functions named like weight initialisers that take an argument."""
    return [(node.name, unit.where(node.lineno)) for unit in units for node in unit.tree.body
            if isinstance(node, ast.FunctionDef) and INIT_NAME.match(node.name) and node.args.args]


def config_loaders(units: Iterable[Unit]) -> list[tuple[str, Unit, int]]:
    """(qualified name, unit, line) of functions (and `from_yaml`-style classmethods) loading a config."""
    out = []
    for unit in units:
        for node in unit.tree.body:
            if isinstance(node, ast.FunctionDef) and LOADER_NAME.match(node.name) and node.args.args:
                out.append((node.name, unit, node.lineno))
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name in LOADER_METHODS and any(
                            dotted(d) in ("classmethod", "staticmethod") for d in item.decorator_list):
                        out.append((f"{node.name}.{item.name}", unit, item.lineno))
    return out


IMAGENET_SIDES = ((224, "the usual ImageNet crop"), (227, "the paper's 227 x 227, which its layer arithmetic needs"))
CIFAR_SIDE = (32, "32 x 32, for a CIFAR-style network")


def input_sides(hints: list[SizeHint], found: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """The sides to try, in order, each with the reason it is tried: what the repository's transforms
    produce (crops, then resizes), then what its configuration names, then the native size of a
    dataset it loads when no transform changes it, then 224 and 227, then 32."""
    out: dict[int, str] = {}
    order = {id(h): i for i, h in enumerate(hints)}
    counts: dict[int, int] = {}
    for h in hints:
        counts[h.side] = counts.get(h.side, 0) + 1
    for h in sorted(hints, key=lambda h: (h.rank, -counts[h.side], order[id(h)])):
        if h.rank <= 2:
            out.setdefault(h.side, f"{h.what} in {h.where}")
    transformed = bool(out)
    for h in hints:
        if h.rank == 3:
            out.setdefault(h.side, f"{h.what} in {h.where}")
    for name, where in found:
        side = DATASETS[name][0]
        if side is not None and not transformed:
            out.setdefault(side, f"{name}'s own {side} x {side} images ({where}), with no resize or crop in the "
                                 "repository's transforms")
    for side, why in (*IMAGENET_SIDES, CIFAR_SIDE):
        out.setdefault(side, why)
    return list(out.items())
