"""GitHub Actions out of the box (issue 23): `alexnet-audit audit` under `GITHUB_ACTIONS=true` prints one
workflow command per finding the gate weighs, at its file and line, appends the verdict and the
deviations to `$GITHUB_STEP_SUMMARY`, and writes SARIF; its terminal lines read like a compiler's.
Through the CLI and its worker, on a copy of tests/audit/located with a two-item spec (a cheap audit)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alexnet_audit.cli.main import EXIT_GATE, main
from alexnet_audit.spec.load import default_spec_path

LOCATED = Path(__file__).parents[1] / "audit" / "located"
IDS = ("lrn.k", "dropout.p")


def _line(path: Path, fid: str) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(n for n, t in enumerate(lines, 1) if t.startswith("class FunctionalNet"))
    end = next(n for n, t in enumerate(lines, 1) if n > start and t.startswith("class "))
    return [n for n, t in enumerate(lines, 1) if start <= n < end and re.search(rf"loc:.*\b{re.escape(fid)}\b", t)]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A job's checkout: the fixture models in `located/`, a two-item spec, the Actions environment."""
    work = tmp_path / "located"
    shutil.copytree(LOCATED, work)
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"] in IDS]
    (work / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step_summary.md"))
    (tmp_path / "step_summary.md").write_text("## an earlier step\n", encoding="utf-8")
    return work


def test_audit_under_github_actions_annotates_summarises_and_writes_sarif(checkout: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["audit", "models.py:FunctionalNet", "--spec", "spec.yaml", "--out", "out",
               "--format", "md,json,sarif"])
    out = capsys.readouterr().out.splitlines()
    assert rc == EXIT_GATE
    (k,) = _line(checkout / "models.py", "lrn.k")
    p1, p2 = _line(checkout / "models.py", "dropout.p")

    # the terminal: one compiler-style line per deviation, clickable as path:line
    assert out[0].startswith("models.FunctionalNet: 2 deviations (1 major, 1 minor)")
    assert f"models.py:{k}: lrn.k [minor] lrn.k must be 2 (got {{lrn1: 1, lrn2: 2}})." in out
    assert f"models.py:{p1}: dropout.p [major] dropout.p must be 0.5 (got 0.3). (also models.py:{p2})" in out

    # the workflow commands: file relative to the checkout (the run was in its `located/` folder)
    notes = [line for line in out if line.startswith("::")]
    assert notes == [
        f"::warning file=located/models.py,line={k},title=lrn.k [minor]::lrn.k must be 2 "
        "(got {lrn1: 1, lrn2: 2}).",
        f"::error file=located/models.py,line={p1},title=dropout.p [major]::dropout.p must be 0.5 (got 0.3). "
        f"(also models.py:{p2})",
    ]

    # the job summary: appended after what earlier steps wrote
    summary = (checkout.parent / "step_summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## an earlier step\n# alexnet-audit: models.FunctionalNet\n\n## Verdict\n")
    assert "**Gate** (`--fail-on minor`): ❌ fails; 2 blocking: `lrn.k`, `dropout.p`." in summary
    assert "## Deviations" in summary and f"`models.py:{p1}`, `models.py:{p2}`" in summary
    assert f"wrote {checkout.parent / 'step_summary.md'}" in out

    # the reports: the JSON's locations, the markdown's links, and the SARIF
    report = json.loads((checkout / "out" / "models.FunctionalNet.json").read_text(encoding="utf-8"))
    by_id = {f["id"]: f for f in report["findings"]}
    assert by_id["lrn.k"]["location"] == {"path": "models.py", "line": k}
    assert by_id["dropout.p"]["location"] == [{"path": "models.py", "line": p1}, {"path": "models.py", "line": p2}]
    md = (checkout / "out" / "models.FunctionalNet.md").read_text(encoding="utf-8")
    assert f"[`models.py:{k}`](../models.py#L{k})" in md
    sarif = json.loads((checkout / "out" / "models.FunctionalNet.sarif").read_text(encoding="utf-8"))
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert results["lrn.k"]["locations"][0]["physicalLocation"]["region"]["startLine"] == k


def test_outside_github_actions_only_the_terminal_lines(checkout: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS")
    main(["audit", "models.py:FunctionalNet", "--spec", "spec.yaml", "--out", "out", "--format", "json"])
    out = capsys.readouterr().out
    assert "::" not in out and "models.py:" in out
    assert (checkout.parent / "step_summary.md").read_text(encoding="utf-8") == "## an earlier step\n"
