"""The committed reports in reports/ are current: regenerating them gives the same bytes.

Regenerates, in-process and into a temporary directory, what `make report` writes (`alexnet-audit
compare reference torchvision seed-000 ... seed-004 --out reports`): each target's md and json
through the same `run_audit` the compare worker calls, and the comparison. Only the
environment's `python` and `sandbox` fields (the interpreter's major.minor and the OS sandbox the
machine offers, which vary by machine and move no finding) come from the committed reports; the
tool version, torch and torchvision in the environment block and the spec's sha256 must be what
this checkout pins (`__version__`, constraints.txt, paper_spec.yaml), so a version bump without
`make report` is a stale report.
On a mismatch the test fails with the command that refreshes the reports.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
TARGETS = ("reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003", "seed-004")
COMPARISON = ("comparison.md", "comparison.json", "comparison.csv", "comparison.png")
REFRESH = "make report"
# The environment fields that vary by machine, not by what was audited: taken from the committed report.
MACHINE_FIELDS = ("python", "sandbox")  # sandbox: the mechanism this machine offers (README, "Isolation")


def pinned(dist: str) -> str:
    """The version constraints.txt pins for `dist` (what `make report` installs)."""
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name.lower() == dist.lower():
            return version
    raise AssertionError(f"constraints.txt pins no version of {dist}")


def committed_reports() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in [*(REPORTS / f"{t}.json" for t in TARGETS), REPORTS / "comparison.json"] if p.is_file()}


def test_committed_reports_name_this_version_the_pinned_torch_and_this_spec():
    """Cheap, and without regenerating anything: every committed report's environment block and spec hash
    are those of this checkout (tool version, torch and torchvision as pinned); only `python` may vary."""
    import alexnet_audit
    from alexnet_audit.spec.load import load_spec

    reports = committed_reports()
    assert set(reports) >= {f"{t}.json" for t in TARGETS}, f"reports/ is incomplete: run `{REFRESH}` and commit it"
    want = {"alexnet_audit": alexnet_audit.__version__, "torch": pinned("torch"), "torchvision": pinned("torchvision")}
    spec = load_spec()
    stale = {}
    for name, data in reports.items():
        if name == "comparison.json":
            continue
        env = {k: v for k, v in data["environment"].items() if k not in MACHINE_FIELDS}
        if env != want or data["spec"]["sha256"] != spec.sha256:
            stale[name] = {**env, "spec": data["spec"]["sha256"][:12]}
    assert stale == {}, (f"committed reports were made by another version (this checkout: {want}, spec "
                         f"{spec.sha256[:12]}). Refresh them with:\n\n    {REFRESH}\n\nand commit reports/.")
    assert set(reports["reference.json"]["environment"]) == {*want, *MACHINE_FIELDS}  # nothing else is in the block


def _first_difference(name: str, old: bytes, new: bytes) -> str:
    if name.endswith(".png"):
        return f"{name}: the image differs ({len(old)} bytes committed, {len(new)} regenerated)"
    diff = difflib.unified_diff(old.decode("utf-8", "replace").splitlines(),
                                new.decode("utf-8", "replace").splitlines(),
                                f"reports/{name} (committed)", f"{name} (regenerated)", n=0, lineterm="")
    lines = list(diff)[:12]
    return "\n".join(lines) if lines else f"{name}: differs in whitespace or line endings"


@pytest.mark.slow
def test_committed_reports_are_current(tmp_path, monkeypatch):
    committed = [REPORTS / f"{t}.json" for t in TARGETS]
    assert any(p.is_file() for p in committed), f"reports/ holds no committed report: run `{REFRESH}` and commit it"
    import alexnet_audit.report.document as report_data
    from alexnet_audit.audit.pipeline import run_audit, write
    from alexnet_audit.report import report_to_dict, write_comparison
    from alexnet_audit.spec.load import load_spec
    from alexnet_audit.target.resolve import load_target

    first = next(json.loads(p.read_text(encoding="utf-8")) for p in committed if p.is_file())
    machine = {k: v for k, v in (first.get("environment") or {}).items() if k in MACHINE_FIELDS}
    environment = report_data.environment
    monkeypatch.setattr(report_data, "environment", lambda: {**environment(), **machine})

    spec = load_spec()
    out = tmp_path / "reports"
    results = []
    for name in TARGETS:  # what `make report` runs: compare, whose workers call run_audit with --fail-on never
        result = run_audit(spec, load_target(name), fail_on="never", base=REPO)
        write(result, spec, out, base=REPO, read_from=REPORTS)  # its links as read from reports/
        results.append(report_to_dict(result.report, spec, result.gate))
    write_comparison(results, out)

    problems = []
    for name in [f"{t}.{ext}" for t in TARGETS for ext in ("md", "json")] + list(COMPARISON):
        old, new = REPORTS / name, out / name
        if not old.is_file():
            problems.append(f"{name}: missing from reports/")
        elif old.read_bytes() != new.read_bytes():
            problems.append(_first_difference(name, old.read_bytes(), new.read_bytes()))
    assert not problems, (
        f"{len(problems)} committed report(s) in reports/ are stale. Refresh them with:\n\n    {REFRESH}\n\n"
        "and commit reports/. Differences:\n\n" + "\n\n".join(problems)
    )
