"""The plugin points at the code too (issue 23): a failing paper test names the file:line of its finding,
`--paper-sarif=FILE` writes the SARIF log, and under GitHub Actions the run prints the annotations and
appends the job summary. One subprocess run on tests/audit/located's FunctionalNet with a two-item spec."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alexnet_audit.spec.load import default_spec_path
from tests.plugin.stand_in import junit, run_sub

LOCATED = Path(__file__).parents[1] / "audit" / "located"


def _marked(path: Path, fid: str) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(n for n, t in enumerate(lines, 1) if t.startswith("class FunctionalNet"))
    end = next(n for n, t in enumerate(lines, 1) if n > start and t.startswith("class "))
    return [n for n, t in enumerate(lines, 1) if start <= n < end and re.search(rf"loc:.*\b{re.escape(fid)}\b", t)]


def test_failures_name_the_line_sarif_is_written_and_actions_are_annotated(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("models.py",):
        shutil.copy(LOCATED / name, pytester.path / name)
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"] in ("lrn.k", "dropout.p")]
    (pytester.path / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)

    result = run_sub(pytester, "--paper-target=models.py:FunctionalNet", "--paper-spec=spec.yaml",
                     "--paper-sarif=out/paper.sarif", "--junitxml=out.xml")
    result.assert_outcomes(failed=2)
    (k,) = _marked(pytester.path / "models.py", "lrn.k")
    p1, p2 = _marked(pytester.path / "models.py", "dropout.p")

    cases = junit(pytester.path / "out.xml")
    assert f"  location: models.py:{k}\n" in cases["lrn.k"]["text"]
    assert f"  location: models.py:{p1}, models.py:{p2}\n" in cases["dropout.p"]["text"]

    out = result.stdout.str()
    assert f"models.py:{p1}: dropout.p [major] dropout.p must be 0.5 (got 0.3). (also models.py:{p2})" in out
    assert f"::warning file=models.py,line={k},title=lrn.k [minor]::" in out
    assert f"::error file=models.py,line={p1},title=dropout.p [major]::" in out

    sarif = json.loads((pytester.path / "out" / "paper.sarif").read_text(encoding="utf-8"))
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"lrn.k", "dropout.p"}
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# alexnet-audit: models.FunctionalNet") and f"`models.py:{k}`" in text


def test_the_example_workflow_uploads_the_sarif_to_code_scanning() -> None:
    root = Path(__file__).resolve().parents[2]
    flow = yaml.safe_load((root / "docs" / "examples" / "paper-gate.yml").read_text(encoding="utf-8"))
    assert flow["permissions"]["security-events"] == "write"
    steps = flow["jobs"]["paper-gate"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    sarif = re.search(r'--paper-sarif="\$GITHUB_WORKSPACE/([^"]+)"', script)
    assert sarif is not None
    upload = next(step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == sarif.group(1)
    assert "always()" in upload["if"]  # a failing gate still uploads its alerts
