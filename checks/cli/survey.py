"""`alexnet-audit survey`: the command line of `survey.run.survey` (README, "Survey a corpus")."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..core.inputs import checked_arg, timeout_arg

_jobs = checked_arg(int, lambda v: v >= 1, "-j/--jobs takes an integer >= 1")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The `survey` subcommand's arguments."""
    s = sub.add_parser("survey", help="audit a corpus of targets on Dask and write a corpus report",
                       description="Audit every target (a list file with one per line, targets, or a glob of "
                                   "folders) through the same isolated client as `audit`; reports go to "
                                   "DIR/targets/, the corpus report to DIR/survey.md, .parquet and .csv. "
                                   "A rerun skips targets whose reports are current.")
    s.add_argument("targets", nargs="+", help="a file listing targets, targets in any form `audit` takes, or globs")
    s.add_argument("--out", type=Path, default=Path("survey"), help="output directory (default: survey)")
    s.add_argument("--spec", type=Path, default=None, help="spec file (default: the packaged paper_spec.yaml)")
    s.add_argument("-j", "--jobs", type=_jobs, default=1,
                   help="Dask worker processes on this machine (default 1; ignored with --scheduler)")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://host:8786 (default: $DASK_SCHEDULER_ADDRESS, "
                        "else a LocalCluster started and stopped here)")
    s.add_argument("--timeout", type=timeout_arg, default=120.0, help="seconds per target (default 120)")
    s.add_argument("--force", action="store_true", help="audit again targets whose reports are current")
    s.add_argument("--fail-on", choices=["major", "minor", "never"], default="never",
                   help="gate threshold for the exit code (default: never; errors always fail)")
    s.add_argument("--require-explained", action="store_true",
                   help="a target whose measurements do not rebuild the model fails (exit 1)")
    s.add_argument("--no-stub", action="store_true",
                   help="do not replace modules that are not installed with empty stubs (a missing import is an "
                        "error); like --sandbox and --pass-env it travels with each task to every worker")
    return s


def command(args: argparse.Namespace) -> int:
    """Run the survey the arguments describe; its exit code."""
    from ..survey.run import survey

    return survey(args.targets, args.out, spec_path=args.spec, timeout=args.timeout, jobs=args.jobs,
                  scheduler=args.scheduler, force=args.force, fail_on=args.fail_on,
                  require_explained=args.require_explained)
