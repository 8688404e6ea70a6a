"""`compare`: every target in its own subprocess; a broken one becomes an error row, the rest finish.

Two real compare runs (each subprocess pays a torch import): the broken-target catalogue plus the
fixture repository's manifest (-j 2), and a hang beside a target that fails to import (--timeout
5). Exit-code rules are tested without subprocesses.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from alexnet_audit.cli.compare import compare
from alexnet_audit.isolate import client
from alexnet_audit.isolate.client import Outcome, memory_limit
from alexnet_audit.isolate.sandbox import default_memory_limit
from alexnet_audit.target.refs import report_names
from tests.fixtures.repo import make_repo

FIXTURES = Path(__file__).parents[1] / "fixtures"
BROKEN = FIXTURES / "broken_targets.py"
GIB = 2**30


@contextlib.contextmanager
def _user_session(root: Path, memory: int | None = None):
    """Run compare from a fake user directory (optionally under a smaller memory limit)."""
    with pytest.MonkeyPatch.context() as mp:
        user = root / "user"
        user.mkdir()
        mp.chdir(user)
        if memory is not None:
            mp.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", str(memory))
        yield user


def _run(targets: list[str], out: Path, **kw: Any) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = compare(targets, out=out, **kw)
    return rc, buf.getvalue()


# name in the comparison -> (target reference relative to the user directory, text the cause must contain)
BROKEN_CASES = {
    "broken_targets.factory_raises": (
        "factory_raises", "calling the target factory failed: RuntimeError: boom in the factory"),
    "broken_targets.not_a_model": ("not_a_model", "the factory returned str, not an nn.Module"),
    "broken_targets.forward_raises": (
        "forward_raises",
        "the forward pass failed on a (2, 3, 32, 32) input: ValueError: shapes do not line up"),
    "broken_targets.forward_nan": ("forward_nan", "the forward pass returned non-finite outputs (20 of 20 are NaN)"),
    "broken_targets.aborts": ("aborts", "the audit process died from SIGABRT"),
    "broken_targets.memory_hog": ("memory_hog", "the target used more memory than allowed ("),
    "logged_model.Net": (None, "needs the module 'tensorboardX'"),
}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("compare")
    make_repo(root / "their_repo", package="pkg_compare")
    (root / "logged_model.py").write_text("import tensorboardX\nimport torch.nn as nn\nNet = nn.Identity\n")
    targets = ["../their_repo/configs/target.yaml"]
    for attr, _ in BROKEN_CASES.values():
        targets.append(f"{BROKEN}:{attr}" if attr else "../logged_model.py:Net")
    with _user_session(root, memory=3 * GIB) as user:
        rc, stdout = _run(targets, out=Path("out"), jobs=2)
    out = user / "out"
    return {"rc": rc, "stdout": stdout, "out": out, "user": user, "root": root, "targets": targets,
            "comparison": json.loads((out / "comparison.json").read_text())}


def _report(run: dict[str, Any], name: str) -> dict[str, Any]:
    return json.loads((run["out"] / f"{name}.json").read_text())


@pytest.mark.slow
def test_catalogue_exit_code_progress_and_order(catalogue: dict[str, Any]) -> None:
    assert catalogue["rc"] == 1  # some targets errored
    lines = [ln for ln in catalogue["stdout"].splitlines() if ln.startswith("[")]
    assert len(lines) == len(catalogue["targets"])
    assert "7 of 8 target(s) could not be audited" in catalogue["stdout"]
    names = [t["name"] for t in catalogue["comparison"]["targets"]]
    assert names == ["their-alexnet", *BROKEN_CASES]  # the order given
    for name in names:
        assert (catalogue["out"] / f"{name}.md").is_file() and (catalogue["out"] / f"{name}.json").is_file()
    assert (catalogue["out"] / "comparison.md").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BROKEN_CASES))
def test_broken_target_is_an_error_row_with_its_cause(catalogue: dict[str, Any], name: str) -> None:
    cause = BROKEN_CASES[name][1]
    row = next(t for t in catalogue["comparison"]["targets"] if t["name"] == name)
    assert row["counts"]["error"] == len(_report(catalogue, name)["findings"]) > 0
    assert cause in row["error"]
    report = _report(catalogue, name)
    assert {f["status"] for f in report["findings"]} == {"error"}
    assert all(cause in f["message"] for f in report["findings"])
    assert any(cause in ln for ln in catalogue["stdout"].splitlines() if ln.startswith("["))


@pytest.mark.slow
def test_import_error_suggests_stub_modules(catalogue: dict[str, Any]) -> None:
    row = next(t for t in catalogue["comparison"]["targets"] if t["name"] == "logged_model.Net")
    assert "stub_modules" in row["error"]


@pytest.mark.slow
def test_fixture_repository_manifest_audits(catalogue: dict[str, Any]) -> None:
    """sys_path, kwargs and stub_modules work in the subprocess, and the audit itself ran."""
    report = _report(catalogue, "their-alexnet")
    assert report["target"]["num_classes"] == 7 and report["target"]["input_size"] == [3, 32, 32]
    assert set(report["target"]["declared"]) == {"optimizer", "scheduler", "batch_size", "epochs", "train_transform"}
    assert any("tensorboardX" in n for n in report["target"]["notes"])
    row = next(t for t in catalogue["comparison"]["targets"] if t["name"] == "their-alexnet")
    assert row["error"] is None and row["counts"]["error"] == 0
    by_id = {f["id"]: f for f in report["findings"]}
    assert [f["id"] for f in report["findings"] if f["status"] == "error"] == []  # the audit measured everything
    assert by_id["train.batch_size"]["status"] == "pass"  # declared 128
    assert by_id["train.momentum"]["status"] == "pass"  # literal SGD momentum 0.9
    assert by_id["train.lr_schedule"]["status"] == "pass"  # literal ReduceLROnPlateau factor 0.1
    # PyTorch's default init deviates, and the manifest's waiver for it reaches the report
    assert (by_id["init.weights"]["status"], by_id["init.weights"]["waived"]) == (
        "deviation", "Kaiming init on purpose")
    assert (by_id["data.pca_lighting"]["status"], by_id["data.pca_lighting"]["waived"]) == (
        "deviation", "not implemented yet")
    assert report["summary"]["gate"]["waived"] == {"data.pca_lighting": "not implemented yet",
                                                   "init.weights": "Kaiming init on purpose"}


@pytest.mark.slow
def test_files_written_at_import_stay_out_of_the_user_tree(catalogue: dict[str, Any]) -> None:
    assert not list(catalogue["root"].rglob("written_at_import.txt"))
    assert not list(catalogue["root"].rglob("runs"))
    assert sorted(p.name for p in catalogue["user"].iterdir()) == ["out"]


@pytest.mark.slow
def test_hang_is_stopped_and_the_other_target_completes(tmp_path: Path) -> None:
    (tmp_path / "logged_model.py").write_text("import tensorboardX\nNet = None\n")
    targets = [f"{BROKEN}:hangs", "../logged_model.py:Net"]
    with _user_session(tmp_path) as user:
        rc, stdout = _run(targets, out=Path("out"), timeout=5, jobs=2)
    assert rc == 1
    rows = json.loads((user / "out" / "comparison.json").read_text())["targets"]
    assert [r["name"] for r in rows] == ["broken_targets.hangs", "logged_model.Net"]
    assert "did not finish within 5 s and was stopped" in rows[0]["error"]
    assert "needs the module 'tensorboardX'" in rows[1]["error"]
    assert len([ln for ln in stdout.splitlines() if ln.startswith("[")]) == 2


# ---------------------------------------------------------------- without subprocesses ---

def _fake(monkeypatch: pytest.MonkeyPatch, results: dict[str, dict[str, Any]]) -> None:
    """The client with the worker's result dicts given: everything after the worker still runs."""
    def run(req: client.Request, **kw: Any) -> Outcome:
        return client.finish(Outcome(req.ref, req.name), results[req.ref], req)

    monkeypatch.setattr(client, "run", run)


def _ok_report(name: str) -> dict[str, Any]:
    from alexnet_audit.core.findings import Report
    from alexnet_audit.report import report_to_dict
    from alexnet_audit.spec.load import load_spec

    spec = load_spec(None)
    return report_to_dict(Report(target={"name": name, "source": name}, spec={"version": spec.version,
                                                                               "sha256": spec.sha256}), spec)


@pytest.mark.parametrize("passed, fail_on, rc", [(True, "never", 0), (False, "never", 0), (False, "minor", 1),
                                                 (True, "major", 0)])
def test_exit_code_follows_the_gate_when_nothing_errored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         passed: bool, fail_on: str, rc: int) -> None:
    _fake(monkeypatch, {"a": {"ok": True, "passed": passed, "summary": "a: ok", "report": _ok_report("a")}})
    assert _run(["a"], out=tmp_path, fail_on=fail_on)[0] == rc


def test_error_rows_are_written_by_the_parent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake(monkeypatch, {"a": {"ok": True, "summary": "a: ok", "report": _ok_report("a")},
                        "b": {"ok": False, "cause": "the audit process died from SIGSEGV"}})
    rc, stdout = _run(["a", "b"], out=tmp_path)
    assert rc == 1 and "b: ERROR - the audit process died from SIGSEGV" in stdout
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["target"]["error"] == "the audit process died from SIGSEGV"
    assert {f["status"] for f in report["findings"]} == {"error"}


def test_unique_names_and_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert report_names(["seed-000", "seed-000", "x/m.py:Net", "y/m.py:Net"]) == [
        "seed-000", "seed-000-2", "m.Net", "m.Net-2"]
    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "1234")
    assert memory_limit() == 1234
    monkeypatch.delenv("ALEXNET_AUDIT_MEMORY_LIMIT")
    assert memory_limit() == default_memory_limit(1) > GIB  # three quarters of this machine's memory


def test_unparseable_memory_limit_is_a_usage_error_before_any_audit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from alexnet_audit.cli.main import EXIT_USAGE, main

    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "lots")
    _fake(monkeypatch, {})  # no audit may start
    assert main(["compare", "reference", "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ALEXNET_AUDIT_MEMORY_LIMIT" in err


def test_cli_compare_rejects_a_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alexnet_audit.cli.main import main

    bad = tmp_path / "spec.yaml"
    bad.write_text("items: 3\n")
    assert main(["compare", "seed-000", "--out", str(tmp_path / "o"), "--spec", str(bad)]) == 2
    assert "alexnet-audit: error:" in capsys.readouterr().err
