"""`alexnet-audit survey TARGETS --out DIR`: every target through the single-target client on Dask,
its reports into DIR/targets/ as it finishes, then the corpus report.

Resumable: a target whose marker (`DIR/state/<stem>.done`, written after its reports) matches its
content key is skipped unless `force`; a target the run did not finish (Ctrl-C, a worker lost twice)
gets no marker, so the next run does it again. Exit code as `compare`: 1 if any target could not be
audited, else the gate per `fail_on` (default never: 0).
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..isolate import client
from . import corpus, document, table

FORMATS = ("md", "json")
OUT_FILES = ("survey.md", "survey.parquet", "survey.csv", *document.FIGURES)


@dataclass
class Plan:
    """The corpus as requests, and which of them this run audits."""

    entries: list[corpus.Entry]
    requests: list[client.Request]
    keys: list[str]
    todo: list[int] = field(default_factory=list)


def plan(targets: Sequence[str], out: Path, *, spec_path: Path | None, timeout: float, fail_on: str,
         require_explained: bool, force: bool) -> tuple[Plan, Path]:
    """Read TARGETS, name them, check --out, decide what is left to do (no target code runs here)."""
    from ..core.files import check_out_dir
    from ..target.record import TargetError
    from ..target.refs import report_stems

    spec = client.load_checked_spec(spec_path)  # a bad spec is a usage error (exit 2) before anything runs
    try:
        entries = corpus.entries(targets)
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"cannot read the target list: {exc}") from None
    if not entries:
        raise TargetError("survey needs at least one target (a list file, targets or a glob that matches).")
    names = corpus.names(entries)
    stems = report_stems(names)
    out = check_out_dir(out, files=OUT_FILES).resolve()
    check_out_dir(out / corpus.TARGETS, stems, FORMATS)
    spec_file = Path(spec_path).resolve() if spec_path else None
    requests = [client.Request(ref=e.ref, name=n, spec=spec, spec_path=spec_file, fail_on=fail_on,
                               require_explained=require_explained, timeout=timeout, base=e.base, stem=s)
                for e, n, s in zip(entries, names, stems, strict=True)]
    from .warm import settings_here

    keys = [corpus.key(r, e, settings_here()) for r, e in zip(requests, entries, strict=True)]
    p = Plan(entries, requests, keys)
    p.todo = [i for i, (r, k) in enumerate(zip(requests, keys, strict=True))
              if force or not corpus.finished(out, r.file_stem, k, FORMATS)]
    return p, out


def _setup(engine: Any, requests: Sequence[client.Request], warm: bool) -> Any:
    from .warm import Setup, settings_here

    jobs = engine.per_host()
    keep = corpus.collapse(k for req in requests for k in client.keep_paths(req))
    settings = settings_here()  # --sandbox, --pass-env, --no-stub: inside every task, for every worker
    if engine.local:  # this machine's environment and limit, as `audit` and `compare` give them
        env = client.worker_env(jobs)
        return Setup(jobs=jobs, env=tuple(sorted(env.items())), limit=client.memory_limit(jobs), keep=keep, warm=warm,
                     settings=settings)
    limit = client.memory_limit(jobs) if os.environ.get("ALEXNET_AUDIT_MEMORY_LIMIT", "").strip() else None
    return Setup(jobs=jobs, env=None, limit=limit, keep=keep, warm=warm, settings=settings)


@dataclass
class Tally:
    """This run's counts, for the progress bar and the closing line."""

    audited: int = 0
    failed: int = 0
    lost: int = 0
    skipped: int = 0
    start: float = field(default_factory=time.monotonic)


def audit_all(p: Plan, out: Path, *, jobs: int, scheduler: str | None, warm: bool = True,
              processes: bool = True) -> Tally:
    """Run `p.todo` on the engine; write each target's reports and marker as it finishes."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from .engine import Engine

    tally = Tally(skipped=len(p.requests) - len(p.todo))
    if not p.todo:
        return tally
    client.memory_limit(jobs)  # an unparseable ALEXNET_AUDIT_MEMORY_LIMIT is a usage error before any audit
    targets = out / corpus.TARGETS
    bar = tqdm(total=len(p.todo), unit="target", desc="survey", file=sys.stderr, smoothing=0.1,
               bar_format="{desc}: {n}/{total} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
    try:
        with Engine(jobs, scheduler=scheduler, processes=processes) as engine:
            setup = _setup(engine, [p.requests[i] for i in p.todo], warm)
            for done in engine.stream(((i, p.requests[i]) for i in p.todo), setup):
                _record(done, p, targets, out, tally, bar)
    finally:
        bar.close()
    return tally


def _record(done: Any, p: Plan, targets: Path, out: Path, tally: Tally, bar: Any) -> None:
    outcome, req = done.outcome, p.requests[done.index]
    if done.lost and outcome.cause.startswith("stopped"):
        return  # interrupted: the previous report (if any) stays, and no marker
    outcome.write(targets, FORMATS)
    tally.audited += 1
    if not outcome.ok:
        tally.failed += 1
        bar.write(f"{outcome.summary}")
    if done.lost:
        tally.lost += 1  # an error row now, and no marker: the next run tries it again
    else:
        corpus.mark(out, req.file_stem, {"key": p.keys[done.index], "ref": req.ref, "ok": outcome.ok,
                                         "attempts": done.attempts})
    bar.set_postfix_str(f"failed {tally.failed}, skipped {tally.skipped}", refresh=False)
    bar.update(1)


def reports(out: Path, requests: Sequence[client.Request]) -> Iterator[dict[str, Any]]:
    """The targets' JSON reports, in corpus order, one at a time."""
    for req in requests:
        try:
            yield json.loads((out / corpus.TARGETS / f"{req.file_stem}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # never audited (an interrupted first run): the table holds what exists


def survey(targets: Sequence[str], out: Path | str, *, spec_path: Path | None = None, timeout: float = 120.0,
           jobs: int = 1, scheduler: str | None = None, force: bool = False, fail_on: str = "never",
           require_explained: bool = False, warm: bool = True, processes: bool = True) -> int:
    """Audit the corpus (what is not done yet), then write survey.parquet / .csv / .md and the figures.

    `processes=False` runs the LocalCluster's worker as threads of this process (as `compare` does)."""
    from .engine import scheduler_address

    p, out = plan(targets, Path(out), spec_path=spec_path, timeout=timeout, fail_on=fail_on,
                  require_explained=require_explained, force=force)
    tally = audit_all(p, out, jobs=jobs, scheduler=scheduler_address(scheduler), warm=warm, processes=processes)
    totals = table.write(reports(out, p.requests), out)
    written = [out / "survey.parquet", out / "survey.csv", *document.write(totals, out)]
    seconds = time.monotonic() - tally.start
    rate = f", {3600.0 * tally.audited / seconds:.0f} targets/h" if tally.audited and seconds > 0 else ""
    print(f"survey: {len(p.requests)} target(s): {tally.audited} audited now ({tally.failed} could not be, "
          f"{tally.lost} lost to the cluster), {tally.skipped} already done{rate}", flush=True)
    for path in written:
        print(f"wrote {path}", flush=True)
    errors = sum(totals.errors.values())
    if errors:
        print(f"{errors} of {totals.targets} target(s) could not be audited", flush=True)
        return 1
    if (fail_on != "never" or require_explained) and totals.gate_failed:
        return 1
    return 0
