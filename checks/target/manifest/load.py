"""Target manifests: a YAML file that plugs in a model from another checkout (docs/ARCHITECTURE.md, "Target protocol").

```yaml
name: their-alexnet                 # report name (default: the file's stem)
model: src/model.py:AlexNet         # or package.module:attr; file paths relative to this file
kwargs: {num_classes: 10}           # passed to the model factory (class or function)
sys_path: [., src]                  # added to sys.path (relative to this file) before importing
stub_modules: [tensorboardX]        # optional imports replaced by empty modules
input_size: [3, 227, 227]           # or 227
num_classes: 10
# recipe: references (module:attr / file.py:attr) ...
loss: torch.nn:CrossEntropyLoss
train_transform: src/data.py:train_transform
# ... or literal values, built here and marked `declared` in the report
batch_size: 128
epochs: 90
optimizer: {type: SGD, lr: 0.01, momentum: 0.9, weight_decay: 0.0005}
scheduler: {type: StepLR, step_size: 30, gamma: 0.1}
eval_transform: [{type: Resize, size: 256}, {type: CenterCrop, size: 224}, ToTensor]
# `none` says the recipe has no such part (scheduler, loss, eval_transform): judged, not skipped.
# Steps and types may reference the repository's code (`{type: src/aug.py:Lighting, alphastd: 0.1}`);
# typed arguments, `{call: ...}` values, albumentations steps, param_groups and the `techniques:`
# section are described in values.py and recipe_parts.py (beside this file).
waivers:
  lrn.k: "k=1 on purpose"
  init.weights: {reason: "Kaiming init", until: 2026-12-31}
notes: "free text shown in the report"
```

Every problem is one line naming the file and the key (with a did-you-mean for misspelt keys and
type names); all problems are reported at once.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...core.inputs import did_you_mean, read_yaml, short_repr
from ..record import Target, TargetError, from_mapping, reuse_first
from . import recipe_parts
from .stubs import UNSTUBBABLE, install_stubs
from .values import Values, is_none

KEYS = ("name", "model", "kwargs", "sys_path", "stub_modules", "input_size", "num_classes", "optimizer", "scheduler",
        "loss", "batch_size", "epochs", "train_transform", "eval_transform", "techniques", "waivers", "notes")
# The keys a manifest inferred from a folder or notebook adds (README, "A folder or a notebook"). Accepted
# everywhere, but not listed after an unknown key (that line stays short); a misspelling still gets its
# did-you-mean.
INFERRED_KEYS = ("inferred_from", "init")
INIT_STYLES = ("apply", "call")
RECIPE_REFS = ("optimizer", "scheduler", "loss", "train_transform", "eval_transform")
# Recipe parts a run may lack: `none` says so, and the items measuring them judge the absence.
MAY_BE_NONE = ("scheduler", "loss", "eval_transform")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------- literal recipe values ---
# Built by `values` (transform steps, typed arguments) and `recipe_parts` (optimizer, scheduler,
# loss, techniques); these take the problem list and base directory of one manifest.

def _literal_optimizer(value: Mapping[str, Any], at: str, problems: list[str], base: Path | None = None,
                       names: list[str] | None = None) -> Any:
    return recipe_parts.optimizer(value, at, Values(base, problems), names)


def _literal_scheduler(value: Mapping[str, Any], at: str, problems: list[str], base: Path | None = None,
                       techniques: Mapping[str, Any] | None = None) -> Any:
    return recipe_parts.scheduler(value, at, Values(base, problems), techniques or {})


def _literal_loss(value: Mapping[str, Any], at: str, problems: list[str], base: Path | None = None) -> Any:
    return recipe_parts.loss(value, at, Values(base, problems))


def _literal_transform(value: Any, at: str, problems: list[str], base: Path | None = None) -> Any:
    """A list of steps (Compose), or one `{call: ...}` / `{use: ...}` / `{type: ...}` giving the whole transform."""
    import torchvision.transforms as T

    vals = Values(base, problems)
    if isinstance(value, Mapping):
        return vals.step(value, at)
    return T.Compose(vals.steps(list(value), at))


# ------------------------------------------------------------------------------- loading ---

def _read(path: Path) -> dict[str, Any]:
    data, _ = read_yaml(path, "the manifest", TargetError)
    if not isinstance(data, Mapping):
        raise TargetError(f"{path}: a manifest is a mapping with at least a 'model' key (got {type(data).__name__}).")
    return dict(data)


def _str_list(value: Any, at: str, problems: list[str]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{at}: must be a list of strings (got {short_repr(value)}).")
        return []
    return [v.strip() for v in value]


def validate(data: Mapping[str, Any], where: str) -> list[str]:
    """Structural problems of a manifest (no imports), one line each."""
    problems: list[str] = []
    for key in data:
        if key not in KEYS and key not in INFERRED_KEYS:
            problems.append(f"{where}: unknown key {short_repr(key)}{did_you_mean(str(key), KEYS + INFERRED_KEYS)}; "
                            f"allowed: {', '.join(KEYS)}.")
    at = lambda k: f"{where}: {k}"  # noqa: E731
    if "model" not in data:
        problems.append(f"{where}: model: missing; give 'package.module:attr' or 'path/file.py:attr'.")
    elif not isinstance(data["model"], str) or ":" not in data["model"]:
        problems.append(f"{at('model')}: must be 'package.module:attr' or 'path/file.py:attr' "
                        f"(got {short_repr(data['model'])}).")
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        problems.append(f"{at('name')}: must be a non-empty string (got {short_repr(data['name'])}).")
    if "kwargs" in data and data["kwargs"] is not None:
        kw = data["kwargs"]
        if not isinstance(kw, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in kw):
            problems.append(f"{at('kwargs')}: must be a mapping of argument names to values (got {short_repr(kw)}).")
    for key in ("sys_path", "stub_modules"):
        if key in data and data[key] is not None:
            _str_list(data[key], at(key), problems)
    for stub in data.get("stub_modules") or [] if isinstance(data.get("stub_modules"), list) else []:
        root = str(stub).split(".")[0]
        if root in UNSTUBBABLE:
            problems.append(f"{at('stub_modules')}: '{stub}' cannot be stubbed: {UNSTUBBABLE[root]}.")
    if "input_size" in data:
        v = data["input_size"]
        ok = (_is_int(v) and v > 0) or (isinstance(v, list) and len(v) == 3 and all(_is_int(x) and x > 0 for x in v))
        if not ok:
            problems.append(f"{at('input_size')}: must be an integer (227) or [C, H, W] (got {short_repr(v)}).")
    for key in ("num_classes", "batch_size", "epochs"):
        if key in data and not (_is_int(data[key]) and data[key] > 0):
            problems.append(f"{at(key)}: must be a positive integer (got {short_repr(data[key])}).")
    for key in RECIPE_REFS:
        if key not in data:
            continue
        v = data[key]
        if key in MAY_BE_NONE and is_none(v):
            continue
        if key in ("optimizer", "scheduler", "loss"):
            literal_ok = isinstance(v, Mapping)
            form = "{type: Name, ...}" + (" or none" if key in MAY_BE_NONE else "")
        else:
            literal_ok = isinstance(v, list) or (isinstance(v, Mapping) and bool({"call", "use", "type"} & set(v)))
            form = "a list of transform steps, {call: module:attr, ...}" + (" or none" if key in MAY_BE_NONE else "")
        if not (isinstance(v, str) and ":" in v) and not literal_ok:
            problems.append(f"{at(key)}: must be a 'module:attr' / 'file.py:attr' reference or {form} "
                            f"(got {short_repr(v)}).")
    if "inferred_from" in data and not (isinstance(data["inferred_from"], str) and data["inferred_from"].strip()):
        problems.append(f"{at('inferred_from')}: must be the path of a folder or notebook (got "
                        f"{short_repr(data['inferred_from'])}).")
    if "init" in data:
        v = data["init"]
        if not (isinstance(v, Mapping) and len(v) == 1 and next(iter(v)) in INIT_STYLES
                and isinstance(next(iter(v.values())), str) and ":" in next(iter(v.values()))):
            problems.append(f"{at('init')}: must be {{apply: module:function}} (model.apply(fn)) or "
                            f"{{call: module:function}} (fn(model)) (got {short_repr(v)}).")
    if "notes" in data and not (isinstance(data["notes"], str) or (
            isinstance(data["notes"], list) and all(isinstance(n, str) for n in data["notes"]))):
        problems.append(f"{at('notes')}: must be a string or a list of strings.")
    return problems


def _waivers(value: Any, where: str, problems: list[str]) -> dict[str, Any]:
    from ...spec.waivers import WaiverError, parse_waivers

    try:  # ids are checked against the run's spec when the audit starts (spec.waivers.merge_waivers)
        return parse_waivers(value, None, f"{where}: waivers")
    except WaiverError as exc:
        problems.append(str(exc))
        return {}


MAX_PROBLEMS = 20


def _joined(problems: list[str]) -> str:
    """The problems one per line, at most MAX_PROBLEMS of them (a file of junk keys stays readable)."""
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problems.")
    return "\n".join(shown)


def load_manifest(path: Path | str, name: str | None = None) -> Target:
    """Read, validate and load a manifest; TargetError lists every problem, one line each."""
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise TargetError(f"{where}: is a directory, not a manifest file (give the .yaml file inside it).")
    if not path.is_file():
        raise TargetError(f"{where}: no such manifest file.")
    data = _read(path)
    problems = validate(data, where)
    if problems:
        raise TargetError(_joined(problems))
    origin = _origin(data, path.resolve().parent, where)
    base, stubs = _prepare_imports(data, path, origin)

    from ..imports import load_object

    declared: set[str] = set()
    absent: set[str] = set()
    mapping: dict[str, Any] = {}
    model_obj = load_object(data["model"], base=base, what=f"{where}: model ({data['model']})")
    kwargs = Values(base, problems).args(dict(data.get("kwargs") or {}), f"{where}: kwargs")
    if problems:
        raise TargetError(_joined(problems))
    init = _init(data.get("init"), base, f"{where}: init")
    mapping["model"], names = _model_factory(model_obj, kwargs, f"{where}: model", init)
    for key in ("input_size", "num_classes"):
        if key in data:
            mapping[key] = data[key]
    for key in ("batch_size", "epochs"):
        if key in data:
            mapping[key] = data[key]
            declared.add(key)
    techniques = recipe_parts.techniques(data.get("techniques"), f"{where}: techniques", problems)
    if "techniques" in data:
        mapping["techniques"] = techniques
        declared.add("techniques")
    for key in RECIPE_REFS:
        if key not in data:
            continue
        value, at = data[key], f"{where}: {key}"
        if key in MAY_BE_NONE and is_none(value):
            absent.add(key)
            continue
        if isinstance(value, str):
            mapping[key] = load_object(value, base=base, what=f"{at} ({value})")
            continue
        if key == "optimizer":
            built = _literal_optimizer(value, at, problems, base, names)
        elif key == "scheduler":
            built = _literal_scheduler(value, at, problems, base, techniques)
        elif key == "loss":
            built = _literal_loss(value, at, problems, base)
        else:
            built = _literal_transform(value, at, problems, base)
        if built is not None:
            mapping[key] = built
            declared.add(key)
    waivers = _waivers(data.get("waivers"), where, problems) if data.get("waivers") else {}
    if problems:
        raise TargetError(_joined(problems))
    notes = data.get("notes") or []
    notes = [notes] if isinstance(notes, str) else list(notes)
    if stubs:
        notes.append(f"Stubbed optional modules: {', '.join(stubs)}.")
    from ..refs import safe_name

    target_name = name or safe_name(data.get("name") or path.stem)
    source = str(origin) if origin is not None else where  # an inferred manifest reports as its folder did
    return from_mapping(target_name, mapping, source, declared=frozenset(declared), absent=frozenset(absent),
                        waivers=waivers, notes=notes)


def _prepare_imports(data: Mapping[str, Any], path: Path, origin: Path | None) -> tuple[Path, list[str]]:
    """sys.path entries, the folder's layout (an inferred manifest) and the stubs, before any import:
    the base that relative references resolve against, and the stubbed names."""
    base = path.resolve().parent
    if origin is not None:
        base = origin if origin.is_dir() else origin.parent
    entries = [(base / entry).resolve() for entry in _str_list(data.get("sys_path") or [], "", [])]
    if origin is not None and origin.is_dir():  # the folder audit's import: its layout, definitions only
        from ..layout import install
        from ..scan import find_candidates
        from ..sources import read_sources

        install(origin, entries, {c.name for c in find_candidates(read_sources(origin).units)})
    for full in map(str, reversed(entries)):
        if full not in sys.path:
            sys.path.insert(0, full)
    stubs = _str_list(data.get("stub_modules") or [], "", [])
    if stubs:
        install_stubs(stubs)
    return base, stubs


def _origin(data: Mapping[str, Any], base: Path, where: str) -> Path | None:
    """The folder or notebook an inferred manifest came from (`inferred_from:`, relative to the manifest)."""
    if "inferred_from" not in data:
        return None
    origin = (base / str(data["inferred_from"]).strip()).resolve()
    if not origin.exists():
        raise TargetError(f"{where}: inferred_from: no such folder or notebook {origin}.")
    return origin


def _init(value: Any, base: Path, at: str) -> Any:
    """`init: {apply: ref}` / `{call: ref}`: a function run on every model right after it is built."""
    if value is None:
        return None
    from ..imports import load_object

    style, ref = next(iter(value.items()))
    fn = load_object(ref, base=base, what=f"{at} ({ref})")
    if not callable(fn):
        raise TargetError(f"{at}: {ref} is not a function.")
    return (lambda m: m.apply(fn)) if style == "apply" else fn


def _model_factory(obj: Any, kwargs: dict[str, Any], at: str, init: Any = None) -> tuple[Any, list[str]]:
    """A factory that returns a fresh nn.Module per call (built once now to fail early and clearly),
    and the model's parameter names (param_groups select by them). `init(model)` runs on each one."""
    import functools

    import torch.nn as nn

    if isinstance(obj, nn.Module):
        if kwargs or init is not None:
            raise TargetError(f"{at}: kwargs or init given, but the model is an nn.Module instance, not a factory.")
        return obj, [n for n, _ in obj.named_parameters()]
    if not callable(obj):
        raise TargetError(f"{at}: {type(obj).__name__} is neither an nn.Module nor a callable returning one.")
    factory = functools.partial(obj, **kwargs) if kwargs else obj
    if init is not None:
        factory = _initialised(factory, init)
    label = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    try:
        built = factory()
    except TypeError as exc:
        raise TargetError(f"{at}: calling {label}(**kwargs) failed: TypeError: {exc} (check kwargs).") from None
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TargetError(f"{at}: calling {label} failed: {type(exc).__name__}{': ' + text if text else ''}") from None
    if not isinstance(built, nn.Module):
        raise TargetError(f"{at}: {label} returned {type(built).__name__}, not an nn.Module.")
    return reuse_first(built, factory), [n for n, _ in built.named_parameters()]


def _initialised(make: Any, init: Any) -> Any:
    def build() -> Any:
        model = make()
        init(model)
        return model

    return build
