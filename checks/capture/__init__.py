"""Audit a repository's own training run: `alexnet-audit capture [options] -- COMMAND ...`.

The parent side (`run.py`, `writer.py` and this module) starts the command, turns what the
instrumentation recorded into `DIR/<name>.yaml` and audits that manifest; the child side
(`child.py`, `hooks.py`, `loaders.py`, `devices.py`, `data.py`, `record.py`) runs inside the
user's process. `fake-data` writes synthetic ImageFolder and CIFAR trees.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_STEPS = 4
DEFAULT_TIMEOUT = 300.0


def capture(command: list[str], *, out: Path, steps: int = DEFAULT_STEPS, timeout: float = DEFAULT_TIMEOUT,
            data: Path | None = None, spec_path: Path | None = None, fail_on: str = "minor",
            name: str | None = None) -> int:
    """Capture, write DIR/<name>.yaml and .log, audit the manifest and write its reports; the gate's exit code."""
    from ..compare import Outcome, audit_in_worker, error_report, run_notes
    from ..errors import UsageError
    from ..files import check_out_dir, write_atomic
    from ..refs import report_stem, safe_name
    from ..report import report_to_dict, write_report_data
    from ..spec import SpecError, load_spec
    from ..target import TargetError
    from . import writer
    from .data import write_fake_data
    from .run import run_command

    if not command:
        raise UsageError("capture needs the training command after `--` (e.g. -- python train.py --epochs 1)")
    spec = load_spec(spec_path, check_probes=True)
    name = safe_name(name or writer.default_name(command))
    stem = report_stem(name)
    formats = ["md", "json"]
    out = check_out_dir(out, [stem], formats)
    if data is not None:
        write_fake_data(data)
    cwd = Path.cwd()
    rec, error, log = run_command(command, steps=steps, timeout=timeout, cwd=cwd)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    log_path = out / f"{stem}.log"
    write_atomic(log_path, log or "(the command wrote nothing)\n")
    written.append(log_path)
    outcome: Any
    if rec.get("model"):
        text, defs = writer.manifest_text(rec, name, command, cwd, out, error, stem)
        manifest = out / f"{stem}.yaml"
        if defs is not None:
            write_atomic(out / f"{stem}_defs.py", defs)
            written.insert(0, out / f"{stem}_defs.py")
        write_atomic(manifest, text)
        written.insert(0, manifest)
        outcome = audit_in_worker(str(manifest), name, spec_path=spec_path, timeout=timeout, fail_on=fail_on,
                                  base=cwd)
        if not outcome.ok and outcome.stage == "spec":
            raise SpecError(outcome.detail)
        if not outcome.ok and outcome.stage == "load":
            outcome.cause = f"the captured manifest {manifest.name} does not load: {outcome.cause}"
    else:
        why = error or "the script built no model whose parameters an optimizer was given"
        outcome = Outcome(ref=" ".join(command), name=name, cause=f"capture: {why}")
        if not error:
            outcome.cause += " (nothing to audit)"
    if outcome.ok and outcome.report is not None:
        data_, summary = outcome.report, outcome.summary
    else:
        data_ = report_to_dict(error_report(outcome, spec, cwd), spec, None)
        summary = f"{name}: ERROR - {outcome.cause}"
    notes = run_notes(outcome, stem)  # as `audit` of the manifest writes them: the same report bytes
    if notes:
        data_ = {**data_, "run_notes": notes}
    if outcome.log:  # what the target printed while audited, after what the command printed
        write_atomic(log_path, f"{log or ''}\n===== while the captured manifest was audited =====\n{outcome.log}")
    written = written + write_report_data(data_, spec, out, formats, stem)
    if error:
        print(f"{name}: the script failed: {error}")
    print(summary)
    for path in written:
        print(f"wrote {path}")
    _ = TargetError
    return 0 if outcome.ok and outcome.passed else 1


def fake_data(root: Path) -> int:
    from .data import describe_tree, write_fake_data

    for path in write_fake_data(root):
        print(f"wrote {path}")
    print(f"{root}: {describe_tree(root)} of synthetic images (ImageFolder: imagenet/train, imagenet/val; "
          "CIFAR-10: cifar-10-batches-py)")
    return 0
