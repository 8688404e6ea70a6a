"""The start of a captured run (child side), called by the bootstrap `sitecustomize` before the script.

Besides the torch-level hooks (`hooks`, `loaders`, `devices`, `fake_datasets`) it records the
epochs the command's arguments or YAML config state, keeps checkpoints and other writes out of the
user's tree (`fs`; the run's working directory is the user's own), stubs modules that are not
installed (`stubs`), and writes the script's uncaught error as one line.
"""
from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any

MAX_SAVES = 2  # checkpoints written to the scratch directory; later saves are skipped
RECORDER: Any = None  # this process's Recorder once `start` ran (the notebook runner adds to it)
EPOCH_KEYS = ("epochs", "num_epochs", "n_epochs", "nepochs", "max_epochs", "total_epochs", "train_epochs", "epoch")


def start() -> None:
    from .record import Recorder

    global RECORDER
    env = dict(os.environ)
    os.environ.pop("ALEXNET_AUDIT_CAPTURE")  # Python processes the script starts are not instrumented
    rec = RECORDER = Recorder(env["ALEXNET_AUDIT_CAPTURE"], env.get("ALEXNET_AUDIT_CAPTURE_CWD", os.getcwd()))
    rec.data["script_dir"] = rec.rel(str(Path(sys.argv[0]).resolve().parent)) if sys.argv and sys.argv[0] else ""
    rec.data["main_file"] = rec.rel(str(Path(sys.argv[0]).resolve())) if sys.argv and sys.argv[0] else ""
    import torch  # noqa: F401  (the hooks must be in place before the script's imports)

    from . import devices, fake_datasets, frameworks, hooks, loaders

    st = hooks.State(rec, int(env.get("ALEXNET_AUDIT_CAPTURE_STEPS", "4")))
    hooks.install(st)
    loaders.install(st)
    fake_datasets.install(rec)
    devices.install(rec)
    devices.install_distributed(rec)
    frameworks.install(st)
    _checkpoints(rec)
    from . import fs, pretrained, stubs

    stubs.install(rec)  # an unguarded import of what is not installed gets an empty stub, noted
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep)[1:] if p]  # the first is our bootstrap
    rec.data["python_path"] = [rec.rel(os.path.abspath(p)) for p in paths]

    # writes stay out of the user's tree: the overlay holds those under it, `fs` redirects the others
    contained = [p for p in env.get("ALEXNET_AUDIT_OVERLAY", "").split(os.pathsep) if p]
    fs.install(rec, Path(env["ALEXNET_AUDIT_CAPTURE"]).parent, contained)
    pretrained.install(rec)  # nothing is downloaded
    _arguments(rec)
    _errors(rec)
    rec.save()


def _checkpoints(rec: Any) -> None:
    """torch.save to a path goes to the scratch directory (torch's C++ writer opens the file itself)."""
    import torch

    scratch = rec.scratch
    save = torch.save

    count = [0]

    def saved(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(f, str | os.PathLike):
            count[0] += 1
            if count[0] > MAX_SAVES:  # the empty epochs would write a checkpoint each (hundreds of MB)
                return None
            target = scratch / "checkpoints" / Path(f).name
            target.parent.mkdir(exist_ok=True)
            rec.note(f"checkpoints the script saves ({Path(f).name}) went to the scratch directory")
            f = target
        return save(obj, f, *args, **kwargs)

    torch.save = saved


def _find_epochs(value: Any, depth: int = 0) -> tuple[str, int] | None:
    if isinstance(value, dict) and depth < 5:
        for k, v in value.items():
            if str(k).lower() in EPOCH_KEYS and isinstance(v, int) and not isinstance(v, bool) and v > 0:
                return str(k), v
        for v in value.values():
            got = _find_epochs(v, depth + 1)
            if got:
                return got
    return None


def _arguments(rec: Any) -> None:
    """Epochs from argparse (the parsed value and the add_argument line) or from a YAML config read."""
    import argparse

    add = argparse.ArgumentParser.add_argument
    sites: dict[str, str] = {}

    def add_argument(self: Any, *args: Any, **kwargs: Any) -> Any:
        action = add(self, *args, **kwargs)
        sites[action.dest] = rec.where()
        return action

    argparse.ArgumentParser.add_argument = add_argument  # type: ignore[method-assign]
    parse = argparse.ArgumentParser.parse_known_args

    def parse_known_args(self: Any, *args: Any, **kwargs: Any) -> Any:
        ns, rest = parse(self, *args, **kwargs)
        got = _find_epochs(vars(ns))
        if got and "epochs" not in rec.data:
            rec.set("epochs", {"value": got[1], "at": sites.get(got[0], rec.where()), "from": f"--{got[0]}"})
        return ns, rest

    argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    try:
        import yaml
    except ImportError:
        return
    for name in ("safe_load", "load", "full_load"):
        fn = getattr(yaml, name, None)
        if fn is not None:
            setattr(yaml, name, _yaml_hook(rec, fn))


def _yaml_hook(rec: Any, fn: Any) -> Any:
    def load(stream: Any, *args: Any, **kwargs: Any) -> Any:
        out = fn(stream, *args, **kwargs)
        got = _find_epochs(out)
        if got and "epochs" not in rec.data:
            where = getattr(stream, "name", None)
            rec.set("epochs", {"value": got[1], "at": rec.rel(str(where)) if where else rec.where(),
                               "from": f"config key {got[0]}"})
        return out

    return load


# Failures that say "this script predates current PyTorch", with what changed.
HINTS = (("modified by an inplace operation", "an in-place operation overwrote a tensor autograd needs (older "
          "PyTorch let it pass)"),
         ("volatile", "Variable(volatile=True) was removed in PyTorch 0.4 (use torch.no_grad())"),
         ("has no attribute 'data_ptr'", "an API the script uses was removed from PyTorch"))


def record_error(rec: Any, exc: BaseException) -> None:
    """The script's error in one line, at the last frame of the user's code it passed through; an
    error raised in the instrumentation itself is told apart (a bug to report here, not in the repo)."""
    from .stubs import own_module

    if "error" in rec.data or isinstance(exc, SystemExit):
        return
    text = " ".join(str(exc).split())
    where, trace, innermost = "?", exc.__traceback__, ""
    while trace is not None:
        frame = trace.tb_frame.f_code.co_filename
        full = str(Path(frame).resolve())
        innermost = full
        if not frame.startswith("<") and not any(full.startswith(d + os.sep) for d in rec._skip_dirs()):
            where = f"{rec.rel(frame)}:{trace.tb_lineno}"
        trace = trace.tb_next
    ours = str(Path(__file__).resolve().parent) + os.sep
    # raised in our own code (not an OS error passing through one of our thin wrappers): ours to fix
    ours_raised = innermost.startswith(ours) and not isinstance(exc, OSError)
    rec.data["error_kind"] = "instrumentation" if ours_raised else "script"
    hint = next((h for key, h in HINTS if key in text), "")
    own = own_module(exc.name or "", rec.cwd) if isinstance(exc, ModuleNotFoundError) else ""
    if own:
        hint = f"the repository's own '{own}' is not on the command's path: run it with PYTHONPATH=."
    if not hint and "length" in text.lower() and any("synthetic" in n for n in rec.data.get("notes", [])):
        hint = "a synthetic stand-in was served for a data set that is not on disk: the script's own arithmetic " \
               "expects the real one's length; put the data where the script looks (or pass --data DIR)"
    if hint:
        rec.data["error_hint"] = hint
    rec.set("error", f"{type(exc).__name__}{': ' + text[:300] if text else ''} (at {where})")


def _errors(rec: Any) -> None:
    hook = sys.excepthook

    def excepthook(kind: Any, exc: BaseException, tb: Any) -> None:
        record_error(rec, exc)
        hook(kind, exc, tb)

    sys.excepthook = excepthook

    def at_exit() -> None:
        rec.data.setdefault("finished", "the script ended")
        rec.data["epochs_run"] = rec.data.get("epochs_started", 0)
        rec.save()

    atexit.register(at_exit)
