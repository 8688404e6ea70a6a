"""The `alexnet-audit` command: audit, compare, smoke, list.

Exit codes: 0 the gate passes, 1 it fails, 2 a usage, spec or target-load error (one line on
stderr, never a traceback).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.inputs import checked_arg, short_repr, timeout_arg

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


def _formats(text: str) -> list[str]:
    out = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in out if f not in ("md", "json", "sarif")]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"--format takes md, json, sarif or a comma-separated list such as "
                                         f"md,json,sarif (got {short_repr(text)})")
    return list(dict.fromkeys(out))


_timeout = timeout_arg
_jobs = checked_arg(int, lambda v: v >= 1, "-j/--jobs takes an integer >= 1")


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(prog="alexnet-audit",
                                description="Audit an AlexNet implementation against the NIPS 2012 paper.")
    p.add_argument("--version", action="version", version=f"alexnet-audit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("audit", help="audit one target and write its reports")
    a.add_argument("target", help="registered name, module:attr, path/file.py:attr or manifest.yaml")
    a.add_argument("--spec", type=Path, default=None, help="spec file (default: the packaged paper_spec.yaml)")
    a.add_argument("--out", type=Path, default=Path("reports"), help="output directory (default: reports)")
    a.add_argument("--format", type=_formats, default=["md", "json"],
                   help="md, json, sarif or a list such as md,json,sarif (default md,json)")
    a.add_argument("--fail-on", choices=["major", "minor", "never"], default="minor",
                   help="gate threshold (default: minor)")
    a.add_argument("--waivers", type=Path, default=None, help="YAML mapping id: reason or id: {reason, until}")
    a.add_argument("--require-explained", action="store_true",
                   help="fail the gate unless the measurements rebuild the model (summary.explained.ok)")
    a.add_argument("--timeout", type=_timeout, default=600.0,
                   help="seconds the audit may take (default 600); the target runs in its own process")
    a.add_argument("--train", nargs="?", const="", default=None, metavar="CMD",
                   help="a folder or notebook target: also run its training command under capture, so the recipe "
                        "items are measured (the README's command, else its train*.py/main.py, else its notebook; "
                        "or the one given, e.g. --train \"python train.py --cfg x.yaml\"); put it after the target")

    c = sub.add_parser("compare", help="audit several targets in isolated subprocesses and write a comparison")
    c.add_argument("targets", nargs="+")
    c.add_argument("--out", type=Path, default=Path("reports"))
    c.add_argument("--spec", type=Path, default=None)
    c.add_argument("--timeout", type=_timeout, default=120.0, help="seconds per target (default 120)")
    c.add_argument("-j", "--jobs", type=_jobs, default=1, help="targets audited in parallel (default 1)")
    c.add_argument("--require-explained", action="store_true",
                   help="a target whose measurements do not rebuild the model fails (exit 1, even with fail-on never)")
    c.add_argument("--fail-on", choices=["major", "minor", "never"], default="never",
                   help="gate threshold for the exit code (default: never; errors always fail)")
    c.add_argument("--format", type=_formats, default=["md", "json"],
                   help="per-target reports: md and json are always written (the comparison reads them); "
                        "sarif adds <target>.sarif")

    from ..smoke.options import add_command_arguments  # the one definition of the smoke options

    s = sub.add_parser("smoke", help="a short training run on synthetic data")
    add_command_arguments(s)

    cap = sub.add_parser("capture", help="run a training command (or a notebook) under instrumentation and audit "
                                         "what it does",
                         usage="alexnet-audit capture [--out DIR] [--steps N] [--timeout S] [--data DIR] "
                               "-- COMMAND ... | NOTEBOOK.ipynb")
    cap.add_argument("--out", type=Path, default=Path("reports"), help="output directory (default: reports)")
    cap.add_argument("--steps", type=_jobs, default=4, help="optimizer steps before the epoch ends (default 4)")
    cap.add_argument("--timeout", type=_timeout, default=300.0, help="seconds for the command (default 300)")
    cap.add_argument("--data", type=Path, default=None, help="write synthetic ImageFolder/CIFAR trees here first")
    cap.add_argument("--name", default=None, help="report name (default: the script's folder or stem)")
    cap.add_argument("--spec", type=Path, default=None)
    cap.add_argument("--fail-on", choices=["major", "minor", "never"], default="minor")
    cap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the training command")

    fd = sub.add_parser("fake-data", help="write small synthetic ImageFolder and CIFAR trees")
    fd.add_argument("dir", type=Path)

    from .survey import add_parser as add_survey_parser

    for runs_target_code in (a, c, s, cap, add_survey_parser(sub)):
        _sandbox_arguments(runs_target_code)
    for imports_repository_code in (a, c, cap):
        imports_repository_code.add_argument(
            "--no-stub", action="store_true",
            help="do not replace modules that are not installed with empty stubs (a missing import is an error)")

    ls = sub.add_parser("list", help="list targets, spec items or probes")
    ls.add_argument("what", choices=["targets", "items", "probes"])
    ls.add_argument("--spec", type=Path, default=None)
    return p


def _sandbox_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sandbox (README, \"Isolation\")")
    g.add_argument("--sandbox", choices=["auto", "required", "off"], default=None,
                   help="the OS sandbox for target code: auto (default: where the system allows it), required "
                        "(refuse to run without it; also ALEXNET_AUDIT_SANDBOX=required) or off")
    g.add_argument("--pass-env", metavar="NAME", action="append", default=[],
                   help="let environment variable NAME through to the target (repeatable)")


def _apply_sandbox_arguments(args: argparse.Namespace) -> None:
    """--sandbox and --pass-env travel as environment variables, to every worker of the run."""
    import os

    from ..isolate import jail

    if getattr(args, "sandbox", None):
        os.environ["ALEXNET_AUDIT_SANDBOX"] = args.sandbox
    if getattr(args, "pass_env", None):
        os.environ["ALEXNET_AUDIT_PASS_ENV"] = ",".join(args.pass_env)
    if getattr(args, "no_stub", False):
        os.environ["ALEXNET_AUDIT_NO_STUB"] = "1"  # read where target code is imported (worker, capture child)
    if hasattr(args, "sandbox"):
        jail.require()
        if not jail.available() and jail.requested() == "auto":
            print(f"alexnet-audit: no OS sandbox here ({jail.mechanism().split(': ', 1)[-1]}); target code runs "
                  "with time and memory limits only", file=sys.stderr)


def print_withheld(names: Sequence[str]) -> None:
    """One line on stderr naming (never showing) what the target did not get from the environment."""
    if names:
        shown = ", ".join(names)  # every name: the one a user looks for must be there
        print(f"alexnet-audit: withheld from the target's environment: {shown} (--pass-env NAME lets one through)",
              file=sys.stderr)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what == "items":
        from ..spec.load import load_spec

        for it in load_spec(args.spec).items:
            print(f"{it.id:32} {it.severity.value:6} {it.section:24} {it.claim}")
    elif args.what == "probes":
        from ..probes import all_probes
        from ..spec.load import load_spec

        users: dict[str, list[str]] = {}
        for it in load_spec(args.spec).items:
            users.setdefault(it.probe, []).append(it.id)
        for name, fn in all_probes().items():
            doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
            print(f"{name:20} {doc}  [{', '.join(users.get(name, [])) or 'unused'}]")
    else:
        from ..target.resolve import registered_targets

        for name, where in registered_targets().items():
            print(f"{name:16} {where}")
    return EXIT_OK


def _cmd_audit(args: argparse.Namespace) -> int:
    """Audit one target in an isolated worker, like compare: the target's code never runs here."""
    from ..core.files import check_out_dir
    from ..isolate import client
    from ..spec.waivers import load_waivers
    from ..target.refs import default_name

    spec = client.load_checked_spec(args.spec)
    waivers = load_waivers(args.waivers, spec) if args.waivers is not None else None  # exit 2 before the target runs
    if args.train is not None:
        return _audit_with_training(args, waivers)
    req = client.Request(ref=args.target, name=default_name(args.target), spec=spec, spec_path=args.spec,
                         fail_on=args.fail_on, require_explained=args.require_explained, waivers=waivers,
                         timeout=args.timeout)
    out = check_out_dir(args.out, [req.file_stem], args.format)  # before the audit, not after it
    outcome = raise_usage_errors(client.run(req))
    return _print_audit(outcome, outcome.write(out, args.format))


def _print_audit(outcome: Any, written: list[Path]) -> int:
    """What `audit` prints (with or without --train): withheld names, summary, findings, files; the exit code."""
    print_withheld(outcome.withheld)
    print(outcome.summary)
    if outcome.unexplained:
        print(outcome.unexplained)
    for path in [*written, *print_findings(outcome)]:
        print(f"wrote {path}")
    return EXIT_OK if outcome.ok and outcome.passed else EXIT_GATE


def _audit_with_training(args: argparse.Namespace, waivers: Any) -> int:
    """`audit <folder> --train`: the training command captured and audited (capture/training.py)."""
    from ..capture.training import audit_with_training
    from ..target.refs import default_name

    done = audit_with_training(args.target, args.train, out=args.out, spec_path=args.spec, fail_on=args.fail_on,
                               waivers=waivers, require_explained=args.require_explained, timeout=args.timeout,
                               formats=args.format, name=default_name(args.target))
    outcome = raise_usage_errors(done.outcome)
    if done.failure:
        print(done.failure_line)
    return _print_audit(outcome, done.written)


def print_findings(outcome: Any) -> list[Path]:
    """The compiler-style line of each deviation and error the gate weighs (`path:line: id [severity]
    message`); under GitHub Actions also their annotations, and the job summary (whose path is
    returned when it was written)."""
    from ..report.annotate import (
        append_step_summary,
        compiler_lines,
        error_annotation,
        github_annotations,
        in_github_actions,
        step_summary,
    )

    if not outcome.ok:  # the summary line says why nothing was measured
        if in_github_actions():
            print(error_annotation(outcome.summary))
        return []
    for line in compiler_lines(outcome.data):
        print(line)
    if not in_github_actions():
        return []
    for line in github_annotations(outcome.data):
        print(line)
    written = append_step_summary(step_summary(outcome.data))
    return [written] if written is not None else []


def raise_usage_errors(outcome: Any) -> Any:
    """A spec or load problem the user must fix is exit 2 (one line), not a report."""
    from ..spec.load import SpecError
    from ..target.record import TargetError

    if not outcome.ok and outcome.stage == "spec":
        raise SpecError(outcome.detail)
    if not outcome.ok and outcome.stage == "load":
        raise TargetError(outcome.detail)
    return outcome


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare

    sarif = "sarif" in args.format
    if sarif:  # checked before minutes of auditing, like compare's own files
        from ..core.files import check_out_dir
        from ..target.refs import report_names, report_stems

        check_out_dir(args.out, report_stems(report_names(args.targets)), ["sarif"])
    code = compare(args.targets, out=args.out, spec_path=args.spec, timeout=args.timeout, jobs=args.jobs,
                   require_explained=args.require_explained,
                   fail_on=args.fail_on)
    if sarif:
        for path in write_sarif_beside(args.targets, args.out, args.spec):
            print(f"wrote {path}", flush=True)
    return code


def write_sarif_beside(targets: Sequence[str], out: Path, spec_path: Path | None) -> list[Path]:
    """`<stem>.sarif` beside each `<stem>.json` that compare wrote (read back, so that the SARIF says
    what the JSON report says)."""
    import json

    from ..core.files import write_atomic
    from ..isolate.client import load_checked_spec
    from ..report import sarif_dumps, to_sarif
    from ..target.refs import report_names, report_stems

    spec = load_checked_spec(spec_path)
    written = []
    for stem in report_stems(report_names(list(targets))):
        report = Path(out) / f"{stem}.json"
        if report.is_file():
            data = json.loads(report.read_text(encoding="utf-8"))
            written.append(write_atomic(Path(out) / f"{stem}.sarif", sarif_dumps(to_sarif(data, spec))))
    return written


def _cmd_smoke(args: argparse.Namespace) -> int:
    from ..smoke import smoke_command

    return smoke_command(args)


def _cmd_capture(args: argparse.Namespace) -> int:
    from ..capture import capture

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    return capture(command, out=args.out, steps=int(args.steps), timeout=args.timeout, data=args.data,
                   spec_path=args.spec, fail_on=args.fail_on, name=args.name)


def _cmd_fake_data(args: argparse.Namespace) -> int:
    from ..capture import fake_data

    return fake_data(args.dir)


def _cmd_survey(args: argparse.Namespace) -> int:
    from .survey import command

    return command(args)


_COMMANDS = {"audit": _cmd_audit, "compare": _cmd_compare, "smoke": _cmd_smoke, "list": _cmd_list,
             "capture": _cmd_capture, "fake-data": _cmd_fake_data, "survey": _cmd_survey}


def main(argv: Sequence[str] | None = None) -> int:
    from ..spec.load import SpecError
    from ..target.record import TargetError

    args = _parser().parse_args(argv)
    try:
        _apply_sandbox_arguments(args)
        return _COMMANDS[args.command](args)
    except (SpecError, TargetError, UsageError) as exc:
        print(f"alexnet-audit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `alexnet-audit list items | head`
        return EXIT_OK
    except KeyboardInterrupt:
        print("alexnet-audit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
