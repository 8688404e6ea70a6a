"""No absolute path of the user's reaches a report, whichever command wrote it.

`compare` hands file targets to its workers as absolute paths; the reports must still name them as
the user typed them, relative to the directory the command ran from. Run from an unusual directory
(spaces, non-ASCII, parentheses) so that a partial scrub would show.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from alexnet_audit.audit.pipeline import scrub_paths
from alexnet_audit.cli.compare import compare
from alexnet_audit.core.findings import Finding, Report, Severity, Status
from tests.fixtures.mutant_sources import MUTANT_K1


def _assert_no_path(out: Path, user: Path) -> None:
    needles = {str(user), str(user.resolve())}
    for path in sorted(out.iterdir()):
        if path.suffix in (".md", ".json", ".csv"):
            text = path.read_text(encoding="utf-8")
            for needle in needles:
                assert needle not in text, f"{path.name} holds the absolute path {needle}"


@pytest.mark.slow  # two compare workers
def test_compare_from_an_unusual_directory_writes_relative_sources(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "my projects ü (copy)" / "alexnet"
    (user / "models").mkdir(parents=True)
    (user / "models" / "model.py").write_text(MUTANT_K1, encoding="utf-8")
    monkeypatch.chdir(user)
    out = user / "audit out"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = compare(["models/model.py:build", "models/missing.py:build"], out=out, timeout=300)
    assert rc == 1  # the missing file is an error row
    _assert_no_path(out, user)
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json") if p.stem != "comparison"}
    sources = sorted(r["target"]["source"] for r in reports.values())
    assert any(s.startswith("models/model.py") for s in sources), sources
    assert all(not s.startswith("/") for s in sources), sources


def test_scrub_paths_removes_the_base_everywhere(tmp_path: Path) -> None:
    base = tmp_path / "proj"
    base.mkdir()
    f = Finding(id="x", status=Status.ERROR, severity=Severity.MAJOR, expected=1, observed=[f"{base}/a.py"],
                message=f"import of {base}/a.py failed", where=f"{base}/a.py:3", evidence=f"see {base}/b.py")
    report = Report(target={"name": "t", "source": f"{base}/a.py:build", "notes": [f"{base}/n"]},
                    spec={"version": "1"}, findings=[f], extras={"k": {"p": f"{base}/e"}})
    clean = scrub_paths(report, base)
    text = json.dumps([clean.target, clean.extras, clean.findings[0].to_dict()])
    assert str(base) not in text
    assert clean.target["source"] == "a.py:build"
    assert clean.findings[0].where == "a.py:3"
    # a root-level base is never scrubbed (it would eat every absolute path's first slash)
    assert scrub_paths(report, "/").target["source"] == report.target["source"]
