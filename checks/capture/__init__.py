"""Audit a repository's own training run: `alexnet-audit capture [options] -- COMMAND ...`.

The parent side (`run.py`, `writer.py` and this module) starts the command, turns what the
instrumentation recorded into `DIR/<name>.yaml` and audits that manifest; the child side
(`child.py`, `hooks.py`, `loaders.py`, `devices.py`, `data.py`, `record.py`) runs inside the
user's process. `fake-data` writes synthetic ImageFolder and CIFAR trees.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STEPS = 4
DEFAULT_TIMEOUT = 300.0


@dataclass
class Captured:
    """A finished capture: the audit's outcome, the files written, and the script's failure in one line."""

    outcome: Any
    written: list[Path] = field(default_factory=list)
    failure: str = ""

    @property
    def failure_line(self) -> str:
        """The failure as printed: `name: the script failed: ...`."""
        return f"{self.outcome.name}: {self.failure[0].lower()}{self.failure[1:]}" if self.failure else ""


def capture(command: list[str], *, out: Path, steps: int = DEFAULT_STEPS, timeout: float = DEFAULT_TIMEOUT,
            data: Path | None = None, spec_path: Path | None = None, fail_on: str = "minor",
            name: str | None = None) -> int:
    """Capture, write DIR/<name>.yaml and .log, audit the manifest and write its reports; the gate's exit code."""
    done = run_capture(command, out=out, steps=steps, timeout=timeout, data=data, spec_path=spec_path,
                       fail_on=fail_on, name=name)
    if done.failure:
        print(done.failure_line)
    print(done.outcome.summary)
    for path in done.written:
        print(f"wrote {path}")
    return 0 if done.outcome.ok and done.outcome.passed else 1


def run_capture(command: list[str], *, out: Path, steps: int = DEFAULT_STEPS, timeout: float = DEFAULT_TIMEOUT,
                data: Path | None = None, spec_path: Path | None = None, fail_on: str = "minor",
                name: str | None = None, cwd: Path | None = None, notes: Sequence[str] = (),
                fallback: str | None = None, waivers: Any = None, require_explained: bool = False,
                formats: Sequence[str] = ("md", "json")) -> Captured:
    """Run `command` captured from `cwd` (default: here), write DIR/<stem>.yaml and .log, audit the
    manifest. `notes` go into the manifest; `fallback` is a target audited instead (with the reason
    as a run note) when the command built no model to audit."""
    from ..core.errors import UsageError
    from ..core.files import check_out_dir, write_atomic
    from ..isolate import client
    from ..spec.load import SpecError
    from ..target.refs import report_stem, safe_name
    from . import writer
    from .fake_datasets import write_fake_data
    from .run import run_command

    if not command:
        raise UsageError("capture needs the training command after `--` (e.g. -- python train.py --epochs 1)")
    spec = client.load_checked_spec(spec_path)
    name = safe_name(name or writer.default_name(command))
    stem = report_stem(name)
    formats = list(dict.fromkeys(["md", "json", *formats]))
    out = check_out_dir(out, [stem], formats)
    if data is not None:
        write_fake_data(data)
    cwd = (cwd or Path.cwd()).resolve()
    rec, error, log = run_command(command, steps=steps, timeout=timeout, cwd=cwd)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    write_atomic(out / f"{stem}.log", log or "(the command wrote nothing)\n")
    gate = dict(spec=spec, spec_path=spec_path, fail_on=fail_on, timeout=timeout, base=Path.cwd(), stem=stem,
                waivers=waivers, require_explained=require_explained)
    if rec.get("model"):
        rec = {**rec, "notes": [*notes, *(rec.get("notes") or [])]}
        text, defs = writer.manifest_text(rec, name, command, cwd, out, error, stem)
        manifest = out / f"{stem}.yaml"
        if defs is not None:
            write_atomic(out / f"{stem}_defs.py", defs)
            written.append(out / f"{stem}_defs.py")
        write_atomic(manifest, text)
        written.insert(0, manifest)
        req = client.Request(ref=str(manifest), name=name, **gate)
        outcome = client.run(req)
        if not outcome.ok and outcome.stage == "spec":
            raise SpecError(outcome.detail)
        if not outcome.ok and outcome.stage == "load":
            outcome = client.failed(req.ref, name, f"the captured manifest {manifest.name} does not load: "
                                    f"{outcome.cause}", req)
    else:
        why = error or "the script built no model whose parameters an optimizer was given"
        if fallback is not None:
            why = writer.failure_line(rec, error) if error else f"The command gave no recipe: {why}"
            req = client.Request(ref=fallback, name=name, notes=(*notes, f"{why}. The recipe items are not measured; "
                                 "the model is the one found in the folder."), **gate)
            outcome = client.run(req)
        else:
            req = client.Request(ref=" ".join(command), name=name, **gate)
            outcome = client.failed(req.ref, name, f"capture: {why}" + ("" if error else " (nothing to audit)"), req)
    written += outcome.write(out, formats, log_prefix=log or "")
    if out / f"{stem}.log" not in written:
        written.append(out / f"{stem}.log")
    return Captured(outcome, written, writer.failure_line(rec, error) if error else "")


def fake_data(root: Path) -> int:
    from .fake_datasets import describe_tree, write_fake_data

    for path in write_fake_data(root):
        print(f"wrote {path}")
    print(f"{root}: {describe_tree(root)} of synthetic images (ImageFolder: imagenet/train, imagenet/val; "
          "CIFAR-10: cifar-10-batches-py)")
    return 0
