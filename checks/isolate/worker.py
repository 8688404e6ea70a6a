"""One target's audit in its own process: `python -m alexnet_audit.isolate.worker` (started by `client.run`).

Runs in a scratch working directory; the parent (`sandbox`) enforces the time and memory limits.
Loads the target, checks that its model builds and runs forward to usable outputs, audits it, and
writes a small result JSON (--result) for the parent, which writes the reports. Whatever goes wrong
becomes `{"ok": false, "cause": ...}`. A hang, a signal or a crash leaves no result, and the parent
reports that too. Once the result is written the process ends at once (`os._exit`): threads the
target left running can neither keep it alive nor crash it during interpreter shutdown; they are
named in the result instead.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..core.errors import call_target, first_line


class _Unauditable(Exception):
    """The target's model cannot be built or run: the cause becomes the error report."""


_OOM_WORDS = ("MemoryError", "can't allocate memory", "out of memory", "Cannot allocate memory")


def _out_of_memory(limit: int) -> str:
    gib = f" (limit {limit / 2**30:.1f} GiB)" if limit > 0 else ""
    return f"the target asked for more memory than is available{gib}"


def preflight(target: Any) -> str | None:
    """Build the model and run one forward pass; the reason it cannot be audited, or None."""
    import torch
    import torch.nn as nn

    from ..trace import output_problem

    torch.manual_seed(0)
    shape = (2, *target.input_size)

    def forward(model: nn.Module) -> Any:
        x = torch.randn(*shape)
        model.eval()
        with torch.no_grad():
            return model(x)

    try:
        model = call_target(target.model, "building the model", _Unauditable)
        if not isinstance(model, nn.Module):
            return f"the model factory returned {type(model).__name__}, not an nn.Module"
        y = call_target(lambda: forward(model), "the forward pass", _Unauditable, context=f" on a {shape} input")
    except _Unauditable as exc:
        return str(exc)
    if isinstance(y, tuple | list) and y and isinstance(y[0], torch.Tensor):
        y = y[0]
    if not isinstance(y, torch.Tensor):
        return f"the forward pass returned {type(y).__name__}, not a tensor"
    return output_problem(y, shape, target.num_classes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The subprocess side: read the spec and waivers named on the command line, then audit."""
    from ..probes import check_probe_names
    from ..spec.load import SpecError, load_spec
    from ..spec.waivers import load_waivers

    try:
        spec = load_spec(args.spec)
        check_probe_names(spec)
        waivers = load_waivers(args.waivers, spec) if args.waivers else None
    except SpecError as exc:  # the parent reads it as a usage error (exit 2)
        return {"ok": False, "stage": "spec", "cause": first_line(exc, with_type=False), "detail": str(exc)}
    only = [i for i in args.only.split(",") if i] if args.only else None
    return audit_request(args.ref, args.name, spec=spec, waivers=waivers, fail_on=args.fail_on, strict=args.strict,
                         only=only, base=args.base, require_explained=args.require_explained)


def audit_request(ref: str, name: str, *, spec: Any, waivers: Any = None, fail_on: str = "minor",
                  strict: bool = False, only: Any = None, base: Any = None, require_explained: bool = False,
                  target: Any = None, check_model: bool = True) -> dict[str, Any]:
    """Load (unless `target` is given), preflight, audit and gate one target: the result dict that
    `client.finish` turns into an Outcome, here or in the parent.

    `check_model=False` (an audit in the user's own pytest process) skips the preflight: there a
    conftest's stand-in probes may audit a target that is no network at all."""
    from ..audit.pipeline import run_audit
    from ..report import report_to_dict
    from ..spec.load import SpecError
    from ..target.record import TargetError
    from ..target.resolve import load_target
    from .codec import gate_payload

    try:
        target = load_target(ref, name=name) if target is None else target
    except TargetError as exc:
        return {"ok": False, "stage": "load", "cause": str(exc).splitlines()[0] if str(exc) else "TargetError",
                "detail": str(exc)}
    described = target.describe()
    # a folder or notebook target: the manifest it inferred, written beside the reports by the parent
    # (`target.inferred.manifest_text`), whether or not the model then runs
    inferred = {"inferred_manifest": target.inferred} if getattr(target, "inferred", None) else {}
    cause = preflight(target) if check_model else None
    if cause is not None:
        # a declared class count the model contradicts is the user's declaration to fix: a usage error
        stage = "load" if cause.startswith("the target declares num_classes") else "model"
        return {"ok": False, "stage": stage, "cause": cause, "detail": f"{name}: {cause}", "target": described,
                **inferred}
    try:
        result = run_audit(spec, target, waivers=waivers, fail_on=fail_on, strict=strict, only=only,
                           base=base, require_explained=require_explained)
    except SpecError as exc:  # a manifest waiver for an id the spec does not have
        return {"ok": False, "stage": "spec", "cause": first_line(exc, with_type=False), "detail": str(exc)}
    return {
        "ok": True,
        "passed": result.passed,
        "summary": result.summary_line(),
        "gate": gate_payload(result.gate),
        "target_waivers": {i: {"reason": w.reason, **({"until": w.until.isoformat()} if w.until else {})}
                           for i, w in target.waivers.items()},
        "report": report_to_dict(result.report, spec, result.gate),
        **inferred,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m {__package__}.worker")
    p.add_argument("--ref", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--result", required=True)
    p.add_argument("--spec", default=None)
    p.add_argument("--waivers", default=None, help="waivers file (validated by the parent first)")
    p.add_argument("--fail-on", default="never")
    p.add_argument("--strict", action="store_true", help="accepted variants fail the gate too")
    p.add_argument("--require-explained", action="store_true", help="fail unless the rebuild explains the model")
    p.add_argument("--only", default="", help="comma-separated item ids to audit (default: every item)")
    p.add_argument("--memory-limit", type=int, default=0, help="the parent's memory limit, for messages (0: none)")
    p.add_argument("--base", default=None, help="the user's working directory (for module:attr imports)")
    args = p.parse_args(argv)

    import faulthandler

    faulthandler.enable()  # a segfault/abort leaves a Python stack on stderr
    from . import offline

    offline.install()  # a target that asks for pretrained weights or data gets one line, not a download
    from . import attempts

    tried = attempts.install(os.getcwd())  # the scratch directory
    if args.base and args.base not in sys.path:
        sys.path.append(args.base)

    try:
        result = run(args)
    except MemoryError:
        result = {"ok": False, "stage": "audit", "cause": _out_of_memory(args.memory_limit)}
    except BaseException as exc:  # SystemExit/KeyboardInterrupt from a target included
        result = {"ok": False, "stage": "audit", "cause": f"the audit failed: {first_line(exc)}"}
    cause = str(result.get("cause", ""))
    if not result.get("ok") and any(w in cause for w in _OOM_WORDS):
        asked = re.search(r"tried to allocate (\d+) bytes", cause)
        where = cause.split(":", 1)[0] if ":" in cause else "the audit"
        detail = f"{where}: tried to allocate {int(asked.group(1)) / 2**30:.1f} GiB" if asked else cause
        result["cause"] = f"{_out_of_memory(args.memory_limit)}; {detail}"
    tried.active = False
    contained = tried.notes(os.environ.get("ALEXNET_AUDIT_SANDBOX_USED", "none"))
    if contained:
        result["contained"] = contained
    left = _leftover_threads()
    if left:
        result["threads"] = left
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        text = json.dumps({"ok": False, "stage": "result", "cause": f"the result could not be serialised: {exc}"})
    tmp = Path(args.result).with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.result)  # the parent sees the whole result or none
    return 0


def _leftover_threads() -> list[str]:
    """The threads (other than this one) still running: started by the target, never joined."""
    import threading

    main_thread = threading.main_thread()
    return sorted(f"{t.name}{' (daemon)' if t.daemon else ''}" for t in threading.enumerate()
                  if t is not main_thread and t.is_alive())


def exit_now(code: int) -> None:
    """End a worker process at once, output flushed: no interpreter shutdown, so threads the target
    left running can neither keep it alive nor abort it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
