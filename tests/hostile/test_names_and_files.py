"""Hostile names and output directories: report files stay bounded, unique and readable, and writes are atomic.

Compare runs are real (each worker is a subprocess) but cheap: a tiny conv net from the fixtures
(about 3 s to audit) or an unknown registered name (fails in a fraction of a second).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from alexnet_audit.cli.compare import compare
from alexnet_audit.core.errors import UsageError
from alexnet_audit.core.findings import Report
from alexnet_audit.judge.verdict import errored
from alexnet_audit.report import report_to_dict, write_comparison, write_reports
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.refs import report_names

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = f"{FIXTURES / 'broken_targets.py'}:Tiny"
BUNDLED = ["reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003", "seed-004"]
SPEC = load_spec(None)


def _manifest(where: Path, name: str, file: str = "m.yaml") -> str:
    data = {"name": name, "model": TINY, "input_size": [3, 32, 32], "num_classes": 10}
    (where / file).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return file


def _compare(targets: list[str], out: Path, **kw: Any) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = compare(targets, out=out, **kw)
    return rc, buf.getvalue()


def _rows(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "comparison.json").read_text(encoding="utf-8"))["targets"]


def _report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _error_report(name: str, reason: str) -> Report:
    return Report(target={"name": name, "source": "x:y"}, spec={"version": SPEC.version, "sha256": SPEC.sha256},
                  findings=[errored(item, reason) for item in SPEC.items])


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ------------------------------------------------------------------ names ----------------------

def test_report_stems_rules() -> None:
    from alexnet_audit.target.refs import MAX_STEM_BYTES, MAX_STEM_CHARS, report_stem, report_stems

    assert report_stems(BUNDLED) == BUNDLED  # the committed reports keep their file names
    assert report_stem("comparison") == "comparison-target"
    assert report_stems(["comparison", "Comparison"]) == ["comparison-target", "Comparison-target-2"]
    assert report_stems(["Net", "net", "a b", "a/b"]) == ["Net", "net-2", "a-b", "a-b-2"]  # case-insensitive disks
    assert report_stem("../../etc/passwd") == "etc-passwd"
    assert report_stem("tab\there\nnul\x00") == "tab-here-nul"
    assert report_stem("cafe\u0301 模型 ü") == "café-模型-ü"  # NFC, letters of any script kept
    long_a, long_b = "a" * 299 + "1", "a" * 299 + "2"
    stems = report_stems([long_a, long_b, "模" * 300])
    assert len(set(stems)) == 3
    for stem in stems:
        assert len(stem) <= MAX_STEM_CHARS and len(stem.encode("utf-8")) <= MAX_STEM_BYTES
    assert stems[0].startswith("a" * 80) and stems[2].startswith("模" * 40)
    assert report_stems([long_a, long_a])[1].endswith("-2") and len(report_stems([long_a, long_a])[1]) <= 100


def test_repeated_names_get_the_next_free_suffix() -> None:
    assert report_names(["ghost-2", "ghost", "ghost"]) == ["ghost-2", "ghost", "ghost-3"]
    assert report_names(["ghost", "ghost", "ghost-2"]) == ["ghost", "ghost-3", "ghost-2"]
    assert report_names(["seed-000", "seed-000", "x/m.py:Net", "y/m.py:Net"]) == [
        "seed-000", "seed-000-2", "m.Net", "m.Net-2"]


def test_lone_report_names(tmp_path: Path) -> None:
    """`audit` writes one target: never over comparison.*, never a name the file system refuses."""
    paths = write_reports(_error_report("comparison", "r"), SPEC, tmp_path)
    assert [p.name for p in paths] == ["comparison-target.md", "comparison-target.json"]
    long = "n" * 5000
    paths = write_reports(_error_report(long, "r"), SPEC, tmp_path, formats=["json"])
    assert len(paths[0].stem) <= 100 and _report(paths[0])["target"]["name"] == long
    paths = write_reports(_error_report("Модель-模型", "r"), SPEC, tmp_path, formats=["md"])
    assert [p.name for p in paths] == ["Модель-模型.md"]


def test_long_names_do_not_crash_compare(user: Path) -> None:
    """A 300-character manifest name and a 5000-character target string: bounded files, full names."""
    long_name = "my-very-long-model-name-" * 12 + "end"
    targets = [_manifest(user, long_name), "y" * 5000]
    rc, stdout = _compare(targets, Path("out"), jobs=2)
    assert rc == 1  # the unknown 5000-character name is an error row
    out = user / "out"
    rows = _rows(out)
    assert [r["name"] for r in rows] == [long_name, "y" * 5000]
    for row in rows:
        stem = row["file"].removesuffix(".md")
        assert len(stem) <= 100
        assert (out / f"{stem}.md").is_file()
        assert _report(out / f"{stem}.json")["target"]["name"] == row["name"]
    assert rows[0]["error"] is None and rows[1]["error"]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("comparison")) == [
        "comparison.csv", "comparison.json", "comparison.md", "comparison.png"]


@pytest.mark.slow  # a real compare run
def test_target_named_comparison_keeps_its_report(user: Path) -> None:
    rc, _ = _compare([_manifest(user, "comparison")], Path("out"))
    assert rc == 0
    out = user / "out"
    assert _report(out / "comparison.json")["format"] == "alexnet-audit/comparison@1"
    own = _report(out / "comparison-target.json")
    assert own["target"]["name"] == "comparison" and own["findings"]
    assert (out / "comparison-target.md").is_file()
    assert _rows(out)[0]["file"] == "comparison-target.md"
    assert "[comparison](comparison-target.md)" in (out / "comparison.md").read_text(encoding="utf-8")


@pytest.mark.slow  # a real compare run
def test_repeated_names_get_their_own_files(user: Path) -> None:
    """A manifest called ghost-2 beside two targets called ghost: three rows, three reports."""
    rc, _ = _compare([_manifest(user, "ghost-2"), "ghost", "ghost"], Path("out"), jobs=3)
    assert rc == 1
    out = user / "out"
    rows = _rows(out)
    assert [r["name"] for r in rows] == ["ghost-2", "ghost", "ghost-3"]
    assert [r["file"] for r in rows] == ["ghost-2.md", "ghost.md", "ghost-3.md"]
    manifest = _report(out / "ghost-2.json")
    assert manifest["target"]["source"].endswith("m.yaml")
    assert any(f["status"] != "error" for f in manifest["findings"])  # not overwritten by an error report
    for name in ("ghost", "ghost-3"):
        assert {f["status"] for f in _report(out / f"{name}.json")["findings"]} == {"error"}


@pytest.mark.slow  # a real compare run
def test_unicode_names_keep_their_letters(user: Path) -> None:
    rc, _ = _compare([_manifest(user, "Модель AlexNet 模型")], Path("out"))
    assert rc == 0
    out = user / "out"
    assert _report(out / "Модель-AlexNet-模型.json")["target"]["name"] == "Модель-AlexNet-模型"
    assert (out / "Модель-AlexNet-模型.md").is_file() and not (out / "target.json").exists()
    assert _rows(out)[0]["file"] == "Модель-AlexNet-模型.md"


# ------------------------------------------------------------------ --out ----------------------

def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from alexnet_audit.cli.main import main

    rc = main(args)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _assert_usage_error(rc: int, stdout: str, stderr: str, text: str) -> None:
    assert rc == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alexnet-audit: error: --out ") and text in lines[0], stderr
    assert "[1/" not in stdout  # no audit started


@pytest.fixture
def unwritable(tmp_path: Path) -> Any:
    if os.geteuid() == 0:  # root writes through permission bits; /proc refuses new files to anyone
        if not Path("/proc/self").is_dir():
            pytest.skip("no unwritable directory for root here")
        yield Path("/proc/self")
        return
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o555)
    yield d
    d.chmod(0o755)


def test_out_that_is_a_file(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (user / "out").write_text("not a directory")
    _assert_usage_error(*_cli(["compare", "ghost", "--out", "out"], capsys), "is not a directory")
    assert (user / "out").read_text() == "not a directory"
    _assert_usage_error(*_cli(["compare", "ghost", "--out", "out/sub"], capsys), "cannot be created")


def test_out_that_is_not_writable(unwritable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(os.listdir(unwritable))
    _assert_usage_error(*_cli(["compare", "ghost", "--out", str(unwritable)], capsys), "is not writable")
    assert sorted(os.listdir(unwritable)) == before


@pytest.mark.parametrize("blocker", ["ghost.json", "comparison.png"])
def test_out_holding_a_directory_where_a_report_goes(user: Path, blocker: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (user / "out" / blocker).mkdir(parents=True)
    _assert_usage_error(*_cli(["compare", "ghost", "--out", "out"], capsys), blocker)
    assert os.listdir(user / "out") == [blocker]  # nothing written, not even a partial report


def test_check_out_dir(tmp_path: Path) -> None:
    from alexnet_audit.core.files import check_out_dir

    fresh = tmp_path / "a" / "b"
    assert check_out_dir(fresh, ["seed-000"]) == fresh and not (tmp_path / "a").exists()  # leaves nothing behind
    (tmp_path / "d" / "x.md").mkdir(parents=True)
    assert check_out_dir(tmp_path / "d", ["x"], ["json"]) == tmp_path / "d"
    with pytest.raises(UsageError, match="holds a directory x.md"):
        check_out_dir(tmp_path / "d", ["x"], ["md", "json"])
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="is not a directory"):
        check_out_dir(tmp_path / "f")
    assert sorted(os.listdir(tmp_path)) == ["d", "f"]


# ------------------------------------------------------------------ atomic writes --------------

ATOMIC_SCRIPT = textwrap.dedent('''
    import json, resource, signal, sys
    from alexnet_audit.core.findings import Report
    from alexnet_audit.judge.verdict import errored
    from alexnet_audit.report import report_to_dict, write_comparison, write_reports
    from alexnet_audit.spec.load import load_spec

    spec = load_spec(None)
    report = Report(target={"name": "victim", "source": "x:y"}, spec={"version": spec.version, "sha256": spec.sha256},
                    findings=[errored(item, "the second run") for item in spec.items])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    failed = []
    for write in (lambda: write_reports(report, spec, sys.argv[1]),
                  lambda: write_comparison([report_to_dict(report, spec)], sys.argv[1])):
        try:
            write()
        except OSError as exc:
            failed.append(exc.errno)
    print(json.dumps(failed))
''')


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="RLIMIT_FSIZE semantics of Linux")
def test_a_failed_write_leaves_the_previous_report(tmp_path: Path) -> None:
    """Writes cut short by a file-size limit (as by a full disk): the previous reports stay whole."""
    import errno

    out = tmp_path / "out"
    first = _error_report("victim", "the first run")
    write_reports(first, SPEC, out)
    write_comparison([report_to_dict(first, SPEC)], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    limit = 2048
    assert len(before) == 6 and all(len(b) > limit for b in before.values())
    proc = subprocess.run([sys.executable, "-c", ATOMIC_SCRIPT, str(out), str(limit)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [errno.EFBIG, errno.EFBIG]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # intact, and no temporary files left
