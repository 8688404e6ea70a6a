"""The arguments a candidate is built with: its defaults, or the fewest values the repository makes obvious.

A parameter with a default keeps it (except `pretrained=True` / `weights=...`, turned off: an
audit never downloads weights). A parameter without one is filled, in this order, from
- a call of the candidate in the repository with a literal value for it (`AlexNet(num_classes=10)`);
- for a class count (`num_classes`, `n_classes`, ...): the repository's YAML files, then the
  dataset it loads (CIFAR-10: 10), then the paper's 1000;
- for input channels: 3;
- for a configuration object (`cfg`, `config`, `args`, `opt`, ... or an annotation naming a
  config): each YAML file of the repository, through the repository's own loader when it has one
  (`load_config(path)`, `Config.from_yaml(path)`), else as a mapping with attribute access
  (`yaml_config`), whole or one section (`model:`).
Each value carries the reason it was chosen and its manifest form (`{call: ..., args: [{path: ...}]}`).
"""
from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .evidence import DATASETS, NOT_LITERAL, CallSite

CLASS_COUNT = frozenset({"num_classes", "n_classes", "nclasses", "num_class", "classes", "class_num", "n_class",
                         "nb_classes", "num_labels", "num_outputs", "out_classes", "output_classes", "class_count",
                         "numclasses", "n_outputs", "output_dim", "out_features", "num_output"})
CHANNELS = frozenset({"in_channels", "in_chans", "input_channels", "channels", "in_ch", "num_channels",
                      "n_channels", "in_channel", "input_channel", "image_channels", "img_channels"})
CONFIG_NAMES = frozenset({"cfg", "config", "conf", "args", "opt", "opts", "hparams", "hp", "params", "configs",
                          "model_cfg", "model_config", "settings", "options", "hyperparams", "arch_cfg", "net_cfg"})
SECTIONS = ("model", "net", "network", "arch", "architecture")
MAX_CONSTRUCTIONS = 12
OWN = "alexnet_audit.target.arguments:yaml_config"


class AttrDict(dict[str, Any]):
    """A YAML mapping readable as `cfg.model.num_classes` and `cfg["model"]["num_classes"]` alike."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _attr(value: Any) -> Any:
    if isinstance(value, Mapping):
        return AttrDict({k: _attr(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_attr(v) for v in value]
    return value


def yaml_config(path: str, key: str | None = None) -> AttrDict:
    """The YAML file at `path` (or its section `key`) as an AttrDict: a config object for a constructor."""
    from ..core.inputs import read_yaml

    data, _ = read_yaml(path, "a configuration file", ValueError)
    if key is not None:
        data = data[key]
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: not a mapping")
    return _attr(data)


@dataclass
class Argument:
    """One keyword argument: its value (made on demand), its manifest form, and why."""

    make: Callable[[], Any]
    manifest: Any
    text: str  # as the call shows it: "num_classes=10"
    why: str


@dataclass
class Construction:
    kwargs: dict[str, Argument] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {k: a.make() for k, a in self.kwargs.items()}

    def call(self, label: str) -> str:
        return f"{label.removesuffix('()')}({', '.join(a.text for a in self.kwargs.values())})"

    def reasons(self) -> list[str]:
        return [a.why for a in self.kwargs.values() if a.why]

    def manifest(self) -> dict[str, Any]:
        return {k: a.manifest for k, a in self.kwargs.items()}


@dataclass
class Context:
    """What the repository says that the arguments may come from."""

    root: Path
    call_sites: list[CallSite]
    configs: dict[str, Any]  # YAML rel path -> data
    datasets: list[tuple[str, str]]
    loaders: list[tuple[str, Callable[..., Any]]]  # (manifest ref, callable)


def _literal(value: Any) -> Argument:
    return Argument(lambda: value, value, "", "")


def _from_call_site(name: str, index: int | None, label: str, ctx: Context) -> Argument | None:
    for site in ctx.call_sites:
        if site.callee != label:
            continue
        value = site.kwargs.get(name, NOT_LITERAL)
        if value is NOT_LITERAL and index is not None and index < len(site.args):
            value = site.args[index]
        if value is not NOT_LITERAL:
            arg = _literal(value)
            arg.why = f"{name} has no default; {site.where} calls {label}(..., {name}={value!r})"
            return arg
    return None


def _class_count(name: str, ctx: Context) -> Argument:
    for rel, data in ctx.configs.items():
        if isinstance(data, Mapping):
            for section in (data, *(v for v in data.values() if isinstance(v, Mapping))):
                value = section.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value > 1:
                    arg = _literal(value)
                    arg.why = f"{name} has no default; {rel} sets {name}: {value}"
                    return arg
    for dataset, where in ctx.datasets:
        classes = DATASETS[dataset][1]
        arg = _literal(classes)
        arg.why = f"{name} has no default; the repository uses {dataset} ({where}), which has {classes} classes"
        return arg
    arg = _literal(1000)
    arg.why = f"{name} has no default and nothing in the repository gives it: the paper's 1000 ImageNet classes"
    return arg


def _is_config(param: inspect.Parameter) -> bool:
    note = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    return param.name.lower() in CONFIG_NAMES or any(w in str(note).lower() for w in ("config", "cfg", "namespace"))


def _yaml_order(ctx: Context, label: str) -> list[str]:
    def rank(rel: str) -> tuple[int, str]:
        low = rel.lower()
        named = label.lower().removesuffix("()") in low or "alexnet" in low
        in_configs = any(part in ("config", "configs", "cfg", "conf") for part in low.split("/")[:-1])
        return (0 if named else 1 if in_configs else 2, rel)

    return sorted((rel for rel, data in ctx.configs.items() if isinstance(data, Mapping)), key=rank)[:6]


def _calls(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def _config_choices(name: str, label: str, ctx: Context) -> list[Argument]:
    out: list[Argument] = []
    for rel in _yaml_order(ctx, label):
        full = str((ctx.root / rel).resolve())
        for ref, loader in ctx.loaders:
            shown = ref.rpartition(":")[2]
            out.append(Argument(_calls(loader, full), {"call": ref, "args": [{"path": rel}]},
                                f"{name}={shown}('{rel}')",
                                f"{name} has no default: a configuration object, made by the repository's own "
                                f"{shown} from {rel}"))
        out.append(Argument(_calls(yaml_config, full), {"call": OWN, "args": [{"path": rel}]},
                            f"{name}=<{rel}>", f"{name} has no default: a configuration object, {rel} read as a "
                            "mapping with attribute access"))
        for section in SECTIONS:
            if isinstance(ctx.configs[rel].get(section), Mapping):
                out.append(Argument(_calls(yaml_config, full, section),
                                    {"call": OWN, "args": [{"path": rel}], "kwargs": {"key": section}},
                                    f"{name}=<{rel}: {section}>", f"{name} has no default: a configuration object, "
                                    f"the {section}: section of {rel} read as a mapping with attribute access"))
    return out


def _off(param: inspect.Parameter) -> Argument | None:
    """`pretrained=True` / `weights='IMAGENET1K'` defaults are turned off: nothing is downloaded."""
    if param.name == "pretrained" and param.default is True:
        arg = _literal(False)
        arg.text, arg.why = "pretrained=False", "pretrained defaults to True; set to False (an audit downloads nothing)"
        return arg
    if param.name == "weights" and isinstance(param.default, str):
        arg = _literal(None)
        arg.text, arg.why = "weights=None", f"weights defaults to {param.default!r}; set to None (no download)"
        return arg
    return None


def constructions(obj: Any, label: str, ctx: Context) -> tuple[list[Construction], str]:
    """The ways to build `obj` (a class or factory named `label` in the source), best first, or
    ([], why none exists)."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return [Construction()], ""
    fixed: dict[str, Argument] = {}
    choices: dict[str, list[Argument]] = {}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is not p.empty:
            if (off := _off(p)) is not None:
                fixed[p.name] = off
            continue
        if p.kind is p.POSITIONAL_ONLY:
            return [], f"needs the positional-only argument '{p.name}'"
        arg = _from_call_site(p.name, positional.index(p) if p in positional else None, label, ctx)
        if arg is None and p.name.lower() in CLASS_COUNT:
            arg = _class_count(p.name, ctx)
        if arg is None and p.name.lower() in CHANNELS:
            arg = _literal(3)
            arg.why = f"{p.name} has no default: 3 (RGB images)"
        if arg is not None:
            fixed[p.name] = arg
            continue
        if _is_config(p) and (options := _config_choices(p.name, label, ctx)):
            choices[p.name] = options
            continue
        return [], f"needs '{p.name}' (no default, and nothing in the repository gives its value)"
    for arg in fixed.values():
        if not arg.text:
            arg.text = f"{next(k for k, v in fixed.items() if v is arg)}={arg.manifest!r}"
    out = []
    names = list(choices)
    for combo in itertools.islice(itertools.product(*(choices[n] for n in names)), MAX_CONSTRUCTIONS):
        out.append(Construction({**fixed, **dict(zip(names, combo, strict=True))}))
    return out, ""


def ordered_yaml(paths: Iterable[Path], root: Path) -> dict[str, Any]:
    """rel path -> data for the readable YAML files (a manifest of ours and unreadable files left out)."""
    from ..core.inputs import read_yaml
    from .sources import rel_path

    out: dict[str, Any] = {}
    for path in paths:
        try:
            data, _ = read_yaml(path, "a configuration file", ValueError)
        except ValueError:
            continue
        if isinstance(data, Mapping) and "inferred_from" in data:
            continue  # a manifest this audit wrote earlier
        out[rel_path(path, root)] = data
    return out
