"""Audit a repository's own training run: `alexnet-audit capture [options] -- COMMAND ...`.

The parent side (`run.py`, `writer.py` and this module) starts the command, turns what the
instrumentation recorded into `DIR/<name>.yaml` and audits that manifest; the child side
(`child.py`, `hooks.py`, `loaders.py`, `devices.py`, `data.py`, `record.py`) runs inside the
user's process. `fake-data` writes synthetic ImageFolder and CIFAR trees.
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_STEPS = 4
DEFAULT_TIMEOUT = 300.0


def capture(command: list[str], *, out: Path, steps: int = DEFAULT_STEPS, timeout: float = DEFAULT_TIMEOUT,
            data: Path | None = None, spec_path: Path | None = None, fail_on: str = "minor",
            name: str | None = None) -> int:
    """Capture, write DIR/<name>.yaml and .log, audit the manifest and write its reports; the gate's exit code."""
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
    formats = ["md", "json"]
    out = check_out_dir(out, [stem], formats)
    if data is not None:
        write_fake_data(data)
    cwd = Path.cwd()
    rec, error, log = run_command(command, steps=steps, timeout=timeout, cwd=cwd)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    log_text = log or "(the command wrote nothing)\n"
    write_atomic(out / f"{stem}.log", log_text)
    if rec.get("model"):
        text, defs = writer.manifest_text(rec, name, command, cwd, out, error, stem)
        manifest = out / f"{stem}.yaml"
        if defs is not None:
            write_atomic(out / f"{stem}_defs.py", defs)
            written.append(out / f"{stem}_defs.py")
        write_atomic(manifest, text)
        written.insert(0, manifest)
        req = client.Request(ref=str(manifest), name=name, spec=spec, spec_path=spec_path, fail_on=fail_on,
                             timeout=timeout, base=cwd, stem=stem)
        outcome = client.run(req)
        if not outcome.ok and outcome.stage == "spec":
            raise SpecError(outcome.detail)
        if not outcome.ok and outcome.stage == "load":
            outcome = client.failed(req.ref, name, f"the captured manifest {manifest.name} does not load: "
                                    f"{outcome.cause}", req)
    else:
        why = error or "the script built no model whose parameters an optimizer was given"
        req = client.Request(ref=" ".join(command), name=name, spec=spec, base=cwd, stem=stem)
        outcome = client.failed(req.ref, name, f"capture: {why}" + ("" if error else " (nothing to audit)"), req)
    written += outcome.write(out, formats, log_prefix=log or "")
    if out / f"{stem}.log" not in written:
        written.append(out / f"{stem}.log")
    if error:
        line = writer.failure_line(rec, error)
        print(f"{name}: {line[0].lower()}{line[1:]}")
    print(outcome.summary)
    for path in written:
        print(f"wrote {path}")
    return 0 if outcome.ok and outcome.passed else 1


def fake_data(root: Path) -> int:
    from .fake_datasets import describe_tree, write_fake_data

    for path in write_fake_data(root):
        print(f"wrote {path}")
    print(f"{root}: {describe_tree(root)} of synthetic images (ImageFolder: imagenet/train, imagenet/val; "
          "CIFAR-10: cifar-10-batches-py)")
    return 0
