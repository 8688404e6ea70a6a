"""`alexnet-audit compare`: audit several targets, each in its own subprocess (docs/ARCHITECTURE.md, "CLI exit codes").

Isolation per target:
- its own Python process (`python -m alexnet_audit.isolate.worker`), so an import-time side effect, a crash or
  an abort (os.abort, a segfault in an extension) cannot take the comparison down;
- a time limit (`--timeout`, default 120 s): the whole process group is killed when it runs over;
- a scratch temporary working directory, removed afterwards, so files a target writes at import
  (logs, checkpoints, downloaded data) stay out of the user's tree;
- a limit on resident memory (default three quarters of the machine's, shared by the parallel jobs;
  environment ALEXNET_AUDIT_MEMORY_LIMIT in bytes, 0 for none), enforced by `sandbox`;
- the target's stdout and stderr kept apart from ours: a report note counts the lines and
  `<stem>.log` holds them;
- OMP/MKL threads split between the parallel jobs.

Every report is written by the parent, atomically, under the file stem `refs.report_stems` gives
the run (bounded, unique, never `comparison`); workers write only into their scratch directory.
`--out` is checked before any audit starts.

A target that cannot be audited (import error, factory raises, not a model, forward raises or
returns NaN/inf, hang, abort/signal, out of memory) gets an error report - every finding `error`
with the cause - and an error row in the comparison; the others complete. Exit code: 1 if any
target errored, else the gate per `fail_on` (default never: 0).
"""
from __future__ import annotations

from pathlib import Path

from ..isolate import client

DEFAULT_TIMEOUT = 120.0
FORMATS = ("md", "json")


def compare(targets: list[str], out: Path | str = Path("reports"), spec_path: Path | str | None = None,
            timeout: float = DEFAULT_TIMEOUT, jobs: int = 1, fail_on: str = "never",
            require_explained: bool = False) -> int:
    """Audit each target in its own subprocess; write per-target reports and the comparison into `out`.

    With `require_explained`, a target whose measurements do not rebuild it fails its gate and the
    run's exit code, whatever `fail_on` says.
    """
    from ..core.errors import UsageError
    from ..core.files import check_out_dir
    from ..report import write_comparison
    from ..report.comparison import COMPARISON_FILES
    from ..target.record import TargetError
    from ..target.refs import report_names, report_stems

    if not targets:
        raise TargetError("compare needs at least one target.")
    spec = client.load_checked_spec(spec_path)  # a bad spec is a usage error (exit 2) before anything runs
    names = report_names(targets)
    stems = report_stems(names)
    out = check_out_dir(out, stems, FORMATS, files=COMPARISON_FILES).resolve()  # before minutes of auditing
    base = Path.cwd()
    requests = [client.Request(ref=ref, name=name, spec=spec, spec_path=Path(spec_path) if spec_path else None,
                               fail_on=fail_on, require_explained=require_explained, timeout=timeout, base=base,
                               stem=stem)
                for ref, name, stem in zip(targets, names, stems, strict=True)]
    outcomes = run_many(requests, jobs)
    from .main import print_withheld

    print_withheld(outcomes[0].withheld)
    try:
        for outcome in outcomes:
            outcome.write(out, FORMATS)
        written = write_comparison([o.data for o in outcomes], out, stems)
    except OSError as exc:  # the disk filled up, or --out changed under us, while the audits ran
        where = f" ({exc.filename})" if exc.filename else ""
        raise UsageError(f"cannot write the reports into {out}: {exc.strerror or exc}{where}") from None
    for path in written:
        print(f"wrote {path}", flush=True)

    errors = [o for o in outcomes if not o.ok]
    if errors:
        print(f"{len(errors)} of {len(outcomes)} target(s) could not be audited: {', '.join(o.name for o in errors)}",
              flush=True)
        return 1
    if fail_on != "never" and not all(o.passed for o in outcomes):
        return 1
    if require_explained and not all(o.passed for o in outcomes):
        return 1  # unexplained fails even under fail-on never
    return 0


def run_many(requests: list[client.Request], jobs: int) -> list[client.Outcome]:
    """Run every request through the client, `jobs` at a time, printing a line as each finishes.

    The survey's engine (`survey.engine`) on a LocalCluster whose worker lives in this process: `jobs`
    threads share one warm zygote that imports torch once and forks each target's worker in its sandbox.
    """
    from ..survey.engine import Engine
    from ..survey.warm import Setup

    n = len(requests)
    env, limit = client.worker_env(jobs), client.memory_limit(jobs)
    keep = tuple(dict.fromkeys(k for req in requests for k in client.keep_paths(req)))
    setup = Setup(jobs=jobs, env=tuple(sorted(env.items())), limit=limit, keep=keep, warm=n > 1)
    outcomes: list[client.Outcome | None] = [None] * n
    with Engine(max(1, min(jobs, n)), processes=False) as engine:
        for finished, done in enumerate(engine.stream(enumerate(requests), setup), 1):
            outcomes[done.index] = done.outcome
            print(f"[{finished}/{n}] {done.outcome.summary} ({done.outcome.seconds:.1f} s)", flush=True)
    return [o for o in outcomes if o is not None]
