"""A captured run's record as an ordinary manifest, each value with a comment saying where it came from.

Parts the run did not have are `none` (judged as absent); parts it did not reach because the
script failed first become `alexnet_audit.capture.unreached:Unreached` steps carrying the script's
error, so that their items are `error` with that line, in this audit and in any later one.
"""
from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

import yaml

UNREACHED = "alexnet_audit.capture.unreached:Unreached"
_TORCH_PREFIXES = ("torch.optim", "torch.nn.modules")


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip().removesuffix(
        "\n...").strip()


class _Refs:
    """References in the record (`module:qual`, `__main__:qual`) as the manifest writes them."""

    def __init__(self, rec: dict[str, Any], cwd: Path, out: Path, stem: str) -> None:
        self.rec, self.cwd, self.out = rec, cwd, out
        self.extracted = f"{stem}_defs.py"
        self.needs_extract = False

    def path(self, rel: str) -> str:
        return os.path.relpath((self.cwd / rel).resolve(), self.out.resolve())

    def ref(self, text: str, torch_name: bool = False) -> str:
        module, _, qual = text.partition(":")
        if torch_name and module.startswith(_TORCH_PREFIXES):
            return qual
        if module == "__main__":  # importing the script would run it: its definitions are copied out
            self.needs_extract = True
            return f"{self.extracted}:{qual}"
        return text

    def value(self, v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"ref"}:
            return {"ref": self.ref(str(v["ref"]))}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        return v


def _defaults_dropped(cls_name: str, module: Any, kwargs: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The arguments that differ from the class's defaults (and those it requires)."""
    cls = getattr(module, cls_name, None)
    try:
        params = inspect.signature(cls).parameters if cls is not None else {}
    except (TypeError, ValueError):
        params = {}
    out = {}
    for k, v in kwargs.items():
        p = params.get(k)
        if params and p is None:
            continue
        if p is not None and k not in keep and p.default is not inspect.Parameter.empty:
            try:
                if p.default == v or (isinstance(p.default, tuple) and list(p.default) == v):
                    continue
            except Exception:  # noqa: S110 - a default that cannot be compared is simply kept
                pass
        out[k] = v
    return out


def _optimizer(rec: dict[str, Any], refs: _Refs) -> tuple[dict[str, Any], list[str]]:
    import torch

    opt = rec["optimizer"]
    name = refs.ref(opt["class"], torch_name=True)
    groups = opt["groups"]
    base = _defaults_dropped(name, torch.optim, dict(groups[0] if len(groups) == 1 else opt["defaults"]),
                             keep=("lr",))
    base.pop("params", None)
    value: dict[str, Any] = {"type": name, **base}
    notes = []
    if len(groups) > 1:
        value["param_groups"] = [{"params": g["params"], **{k: v for k, v in g.items() if k != "params" and
                                                             base.get(k, opt["defaults"].get(k)) != v}}
                                 for g in groups[1:]]
        notes.append(f"{len(groups)} param groups")
    return value, notes


def _scheduler(rec: dict[str, Any], refs: _Refs) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
    import torch

    s = rec["scheduler"]
    name = refs.ref(s["class"], torch_name=True)
    kwargs = _defaults_dropped(name, torch.optim.lr_scheduler, refs.value(s["kwargs"]))
    kwargs.pop("last_epoch", None)
    kwargs.pop("verbose", None)
    events = s.get("steps") or []
    train = rec.get("train") or {}
    in_epoch = {e["opt_steps"] for e in events if e["epoch"] <= 1}  # one value: once, at the epoch's end
    stepping: dict[str, Any] = {}
    if events:
        every = "iteration" if len(in_epoch) >= 2 else "epoch"
        stepping["every"] = every
        if every == "iteration" and train.get("batches"):
            stepping["per_epoch"] = int(train["batches"])
        stepping["order"] = "before_optimizer" if events[0]["opt_steps"] == 0 else "after_optimizer"
        metric = next((e for e in events if e.get("metric") is not None), None)
        if metric is not None:
            m = re.search(r"\.step\((.*)\)", metric.get("line") or "")
            stepping["metric"] = s.get("monitor") or (m.group(1).strip() if m and m.group(1).strip() else "a metric")
    how = (f"stepped every {stepping.get('every', '?')} ({len(events)} call(s) seen)" if events
           else "never stepped in the captured part of the run")
    if s.get("lost"):
        return None, stepping, f"{s['at']}; could not write {', '.join(s['lost'])}: left out, edit it in"
    return {"type": name, **kwargs}, stepping, f"{s['at']}; {how}"


def _loss(rec: dict[str, Any], refs: _Refs) -> tuple[dict[str, Any], str]:
    import torch

    loss = rec["loss"]
    if loss["kind"] == "measured":
        from .loss_grad import manifest_loss

        measured, _ = manifest_loss(loss)
        said = f"{loss['at']}; a hand-written loss, measured from its gradient at backward(): {loss['evidence']}"
        if measured is None:
            return {"type": UNREACHED, "error": f"a hand-written loss at {loss['at']} ({loss['line']}): "
                    f"{loss['evidence']}; capture cannot name it: write it into the manifest's loss:"}, said
        return measured, said
    kw = dict(loss["kwargs"])
    if loss["kind"] == "function":
        value: dict[str, Any] = {"function": loss["function"], **kw}
    else:
        name = refs.ref(loss["class"], torch_name=True)
        value = {"type": name, **_defaults_dropped(name, torch.nn, refs.value(kw))}
    if loss["input"] not in ("logits", "model_output"):  # the loop turned the model's output into this
        value["input"] = loss["input"]
    fed = "the model's output" if loss["input"] == "model_output" else f"{loss['input']} made by the loop"
    return value, f"{loss['at']}; fed {fed}"


def _step(step: dict[str, Any], refs: _Refs, lost: list[str]) -> dict[str, Any]:
    """A recorded step with its references (nested steps too) as the manifest writes them."""
    step = dict(step)
    lost.extend(step.pop("_lost", None) or [])
    for key in ("type", "use"):
        if key in step:
            step[key] = refs.ref(str(step[key]))
    return {k: ([_step(x, refs, lost) for x in v] if k in ("transforms", "transform") and isinstance(v, list)
                else refs.value(v)) for k, v in step.items()}


def _steps(steps: list[dict[str, Any]], refs: _Refs, lines: list[str], indent: str = "  ") -> None:
    for step in steps:
        lost: list[str] = []
        written = _step(step, refs, lost)
        comment = f"  # could not write {', '.join(lost)}" if lost else ""
        lines.append(f"{indent}- {_flow(written)}{comment}")


def manifest_text(rec: dict[str, Any], name: str, command: list[str], cwd: Path, out: Path, error: str,
                  stem: str | None = None) -> tuple[str, str | None]:
    """The manifest for `rec` (written to `out`) as YAML text with comments, and the definitions file it
    needs (the text of `<stem>_defs.py`, or None)."""
    rec = with_built_loaders(rec) if error else rec  # a run that failed still says what it had built
    refs = _Refs(rec, cwd, out, stem or name)
    lines = [f"# Captured by `alexnet-audit capture -- {' '.join(command)}` (run from {cwd.name}/).",
             "# Each comment says where in the repository's code the value came from; edit freely.",
             f"name: {_flow(name)}"]
    if rec.get("script_dir") is not None:
        paths = [rec.get("script_dir") or "."] + [p for p in rec.get("python_path") or [] if p]
        unique = list(dict.fromkeys(refs.path(p) for p in paths))
        lines.append(f"sys_path: [{', '.join(_flow(p) for p in unique)}]  # the script's folder and PYTHONPATH")
    if rec.get("stub_modules"):
        lines.append(f"stub_modules: [{', '.join(_flow(m) for m in rec['stub_modules'])}]  # not installed: stubbed")
    reached = error == "" or rec.get("opt_steps", 0) > 0
    unreached = {"type": UNREACHED, "error": f"not reached: the script failed before it: {error}"}
    lines += _model_lines(rec, refs)
    lines += _size_lines(rec)
    recipe, stepping = _recipe_lines(rec, refs, reached, unreached)
    lines += recipe
    lines += _transform_lines(rec, refs, error, reached, unreached)
    techniques = _techniques(rec, stepping)
    if techniques:
        lines.append("techniques:")
        lines.extend(techniques)
    elif reached:
        lines.append("techniques: {}  # none of clipping, autocast, GradScaler, AveragedModel, mixup was seen")
    notes = list(rec.get("notes") or [])
    if error:
        notes.insert(0, failure_line(rec, error))
    if notes:
        lines.append("notes:")
        lines.extend(f"  - {_flow(n)}" for n in notes)
    defs = _definitions(rec, refs, cwd)  # after every line: writing them decides whether the script's are needed
    return "\n".join(lines) + "\n", defs


def _model_lines(rec: dict[str, Any], refs: _Refs) -> list[str]:
    """model: and kwargs:; an inline container is rebuilt by a factory in the definitions file."""
    model = rec["model"]
    lines = []
    if "code" in model:  # an inline nn.Sequential (or container): rebuilt by a captured factory
        if model["code"] is None:
            lines.append("# the model is a torch.nn container of layers capture cannot write out: point model: at "
                         "a factory that builds it")
        lines.append(f"model: {_flow(refs.extracted + ':captured_model')}  # built at {model['at']}")
        model = {**model, "kwargs": {}}
    else:
        lines.append(f"model: {_flow(refs.ref(model['class']))}  # built at {model['at']}")
    if model.get("kwargs"):
        lines.append(f"kwargs: {_flow(refs.value(model['kwargs']))}")
    if model.get("lost"):
        lines.append(f"# could not write the model's {', '.join(model['lost'])}: edit them into kwargs")
    return lines


def _size_lines(rec: dict[str, Any]) -> list[str]:
    """input_size:, batch_size: (over all processes) and epochs:, where the run showed them."""
    lines = []
    if rec.get("input_size"):
        lines.append(f"input_size: {_flow(rec['input_size'])}  # the first training batch fed to the model")
    train = rec.get("train")
    if train and train.get("batch_size"):
        world = int(rec.get("world_size") or 1)
        per = f"{train['batch_size']} per process x {world} processes: " if world > 1 else ""
        lines.append(f"batch_size: {train['batch_size'] * world}  # {per}the training DataLoader built at "
                     f"{train['at']}")
    if rec.get("epochs"):
        e = rec["epochs"]
        lines.append(f"epochs: {e['value']}  # {e['from']} at {e['at']}")
    elif rec.get("finished") == "the script ended" and rec.get("epochs_run") and not rec.get("error"):
        lines.append(f"epochs: {rec['epochs_run']}  # the training loader was iterated this many times")
    return lines


def _recipe_lines(rec: dict[str, Any], refs: _Refs, reached: bool,
                  unreached: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """optimizer:, scheduler: and loss: (`none` where the run had none, `unreached` where it failed first),
    and how the scheduler was stepped (for `techniques: scheduler_step`)."""
    value, notes = _optimizer(rec, refs) if rec.get("optimizer") else (unreached, [])
    lines = [f"optimizer: {_flow(value)}  # {rec['optimizer']['at'] if rec.get('optimizer') else 'not reached'}"
             + (f"; {', '.join(notes)}" if notes else "")]
    stepping: dict[str, Any] = {}
    if rec.get("scheduler"):
        sched, stepping, how = _scheduler(rec, refs)
        lines.append(f"scheduler: {_flow(sched)}  # {how}" if sched else f"# scheduler: {how}")
    else:
        lines.append("scheduler: none  # no scheduler was built" if reached else f"scheduler: {_flow(unreached)}")
    if rec.get("loss"):
        value, how = _loss(rec, refs)
        lines.append(f"loss: {_flow(value)}  # {how}")
    elif reached:
        lines.append("loss: none  # no loss module, torch.nn.functional loss or backward() on the model's output "
                     "was seen")
    else:
        lines.append(f"loss: {_flow(unreached)}")
    return lines, stepping


def _transform_lines(rec: dict[str, Any], refs: _Refs, error: str, reached: bool,
                     unreached: dict[str, Any]) -> list[str]:
    """train_transform: and eval_transform:, each the steps of its data set's `transform` (the eval one
    ending in the crops the evaluation loop makes)."""
    lines: list[str] = []
    for role, key in (("train", "train_transform"), ("eval", "eval_transform")):
        part = rec.get(role)
        if part and part.get("transform") is not None:
            lines.append(f"{key}:  # the {role} data set's transform ({part['dataset']}, loader at {part['at']})")
            _steps(part["transform"], refs, lines)
            if role == "eval" and rec.get("loop_crop"):
                crop = rec["loop_crop"]
                kind = "TenCrop" if crop["kind"] == "ten_crop" else "FiveCrop"
                step = {"type": kind, "size": crop["size"], "vertical_flip": crop["vertical_flip"]}
                lines.append(f"  - {_flow(step)}"
                             f"  # done by the evaluation loop at {crop['at']}")
        elif part:
            lines.append(f"# {key}: the {role} data set ({part['dataset']}) has no `transform` attribute to read")
        elif role == "eval" and rec.get("finished") and not error:
            lines.append("eval_transform: none  # the run evaluated nothing")
        elif not reached:
            lines.append(f"{key}: [{_flow(unreached)}]")
    return lines


def _definitions(rec: dict[str, Any], refs: _Refs, cwd: Path) -> str | None:
    """The text of `<stem>_defs.py`: the script's definitions the manifest names, and the factory of an
    inline model; None when the manifest needs neither."""
    defs = None
    if refs.needs_extract and rec.get("main_file") and (cwd / rec["main_file"]).is_file():
        from .script_defs import definitions_file

        defs = definitions_file(cwd / rec["main_file"], refs.out)
    if "code" in rec["model"]:
        factory = (f"def captured_model():\n    return {rec['model']['code']}\n" if rec["model"]["code"] else
                   "def captured_model():\n    raise RuntimeError('capture could not write this model out')\n")
        defs = (defs or '"""The model built by the script, written out by alexnet-audit capture."""\n') + \
            "import torch.nn as nn\n\n\n" + factory
    return defs


def _techniques(rec: dict[str, Any], stepping: dict[str, Any]) -> list[str]:
    t = rec.get("techniques") or {}
    out = []

    def add(key: str, value: Any, at: str | None) -> None:
        out.append(f"  {key}: {_flow(value)}" + (f"  # {at}" if at else ""))

    loss = rec.get("loss") or {}
    if loss.get("kind") == "measured":
        from .loss_grad import manifest_loss

        for key, value in manifest_loss(loss)[1].items():
            add(key, value, f"{loss['at']}: a hand-written smoothed target, measured from the loss's gradient")
    for key in ("grad_clip", "amp", "ema", "mixup", "cutmix"):
        if key in t:
            settings = {k: v for k, v in t[key].items() if k not in ("at", "evidence")}
            add(key, settings or True, t[key].get("at") or t[key].get("evidence"))
    if "channels_last" in t:
        add("channels_last", True, t["channels_last"].get("at"))
    if "parallel" in t:
        add("parallel", t["parallel"]["kind"], t["parallel"].get("at"))
    if stepping:
        add("scheduler_step", stepping, None)
    combine = rec.get("eval_combine") or {}
    if combine.get("combine") in ("average", "separate", "max") and int(combine.get("views") or 1) > 1:
        what = {"average": "averaged", "separate": "each scored on its own", "max": "combined by a max"}
        add("eval_crops", {"views": combine["views"], "combine": combine["combine"]},
            f"measured: {combine['model_rows']} model-output rows behind {combine['rows']} predictions at "
            f"{combine['at']}: the views are {what[combine['combine']]}")
    elif rec.get("loop_crop"):
        crop = rec["loop_crop"]
        add("eval_crops", {"views": 10 if crop["kind"] == "ten_crop" else 5}, crop["at"])
    return out


def default_name(command: list[str]) -> str:
    """The script's folder for train.py / main.py, else the script's stem."""
    script = next((c for c in command if c.endswith((".py", ".ipynb"))), command[-1] if command else "capture")
    path = Path(script)
    if path.stem in ("train", "main", "run", "trainer", "training") and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem or "capture"


def failure_line(rec: dict[str, Any], error: str) -> str:
    """What broke, in one line: the repository's script (with what changed in PyTorch, where known) or
    the capture's own instrumentation (a bug to report to alexnet-audit)."""
    if rec.get("error_kind") == "instrumentation":
        return f"The capture's instrumentation failed (please report it to alexnet-audit): {error}"
    hint = f" ({rec['error_hint']})" if rec.get("error_hint") else ""
    return f"The script failed: {error}{hint}"


def with_built_loaders(rec: dict[str, Any]) -> dict[str, Any]:
    """The record with a training or evaluation loader the run never iterated filled in from the
    loaders it built (a shuffling one trains, a sequential one evaluates), with a note saying so."""
    missing = [role for role in ("train", "eval") if role not in rec]
    if not missing or not rec.get("loaders"):
        return rec
    out = {**rec, "notes": list(rec.get("notes") or [])}
    for role in missing:
        built = next((b for b in rec["loaders"] if b.get("shuffled") == (role == "train")), None)
        if built is None:
            continue
        out[role] = {k: v for k, v in built.items() if k != "shuffled"} | {"batches": None}
        out["notes"].append(f"the {'training' if role == 'train' else 'evaluation'} loader built at {built['at']} was "
                            f"never iterated (the run stopped first): its role is read from its "
                            f"{'shuffling' if role == 'train' else 'sequential order'}")
    return out
