"""`alexnet-audit audit` exit codes: 0 the gate passes, 1 it fails, 2 a usage, spec or target error
with one line on stderr and no traceback. In-process through `alexnet_audit.cli.main.main`, and once through
the installed console script."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alexnet_audit.cli.main import EXIT_GATE, EXIT_OK, EXIT_USAGE, main
from alexnet_audit.spec.load import default_spec_path, load_spec
from tests.fixtures.mutant_sources import MUTANT_K1

BROKEN = Path(__file__).parents[1] / "fixtures" / "broken_targets.py"


@pytest.fixture
def mutant(tmp_path: Path) -> str:
    (tmp_path / "k1_mutant.py").write_text(MUTANT_K1, encoding="utf-8")
    return f"{tmp_path / 'k1_mutant.py'}:build"


@pytest.fixture
def lrn_spec(tmp_path: Path) -> Path:
    """The real spec cut down to its normalisation items (same ids, same values): a cheap audit."""
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"].startswith("lrn.")]
    path = tmp_path / "lrn_spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def audit(tmp_path: Path, *args: str) -> int:
    return main(["audit", *args, "--out", str(tmp_path / "out")])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("alexnet-audit: error: ") and "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------- gate: 0 and 1 ---

@pytest.mark.slow
def test_reference_passes_exit_0(tmp_path, capsys):
    assert audit(tmp_path, "reference") == EXIT_OK
    out = capsys.readouterr().out
    assert "reference: 0 deviations (0 major, 0 minor)" in out and "gate fail-on=minor: PASS" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["reference.json", "reference.md"]


@pytest.mark.slow
def test_minor_mutant_fails_exit_1(tmp_path, capsys, mutant):
    assert audit(tmp_path, mutant) == EXIT_GATE
    out = capsys.readouterr().out
    assert "1 deviation (0 major, 1 minor)" in out and "gate fail-on=minor: FAIL (lrn.k)" in out


@pytest.mark.slow
def test_minor_mutant_passes_with_fail_on_major_or_waived(tmp_path, capsys, mutant, lrn_spec):
    assert audit(tmp_path, mutant, "--spec", str(lrn_spec)) == EXIT_GATE
    assert audit(tmp_path, mutant, "--spec", str(lrn_spec), "--fail-on", "major") == EXIT_OK
    assert "gate fail-on=major: PASS" in capsys.readouterr().out
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("lrn.k: {reason: pretrained checkpoint uses k=1, until: 2999-12-31}\n", encoding="utf-8")
    assert audit(tmp_path, mutant, "--spec", str(lrn_spec), "--waivers", str(waivers)) == EXIT_OK
    assert "1 waived; gate fail-on=minor: PASS" in capsys.readouterr().out
    # the same waiver once the defect is fixed: stale, exit 1
    assert audit(tmp_path, "reference", "--spec", str(lrn_spec), "--waivers", str(waivers)) == EXIT_GATE
    assert "FAIL (lrn.k)" in capsys.readouterr().out


# ------------------------------------------------------------------------- usage errors: 2 ---

def test_bad_target_name_exit_2(tmp_path, capsys):
    assert audit(tmp_path, "no-such-target") == EXIT_USAGE
    assert "no-such-target" in one_line_error(capsys)


def test_malformed_spec_exit_2(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("format: alexnet-audit/spec\nversion: '1'\npaper: {title: t}\nitems: [\n", encoding="utf-8")
    assert audit(tmp_path, "reference", "--spec", str(spec)) == EXIT_USAGE
    assert "spec.yaml: not valid YAML" in one_line_error(capsys)


def test_malformed_waiver_file_exit_2(tmp_path, capsys):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("lrn.k: {reason: x, until: someday}\n", encoding="utf-8")
    assert audit(tmp_path, "reference", "--waivers", str(waivers)) == EXIT_USAGE
    assert "waivers.yaml: waiver 'lrn.k': 'until' must be a date YYYY-MM-DD" in one_line_error(capsys)


def test_unknown_waiver_id_exit_2(tmp_path, capsys):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("lrn.kk: typo\n", encoding="utf-8")
    assert audit(tmp_path, "reference", "--waivers", str(waivers)) == EXIT_USAGE
    assert "unknown item id 'lrn.kk' (did you mean 'lrn.k'?)" in one_line_error(capsys)


def test_console_script_usage_error_has_no_traceback(tmp_path):
    exe = Path(sys.executable).with_name("alexnet-audit")
    cmd = [str(exe)] if exe.exists() else [shutil.which("alexnet-audit") or "alexnet-audit"]
    proc = subprocess.run([*cmd, "audit", "no-such-target", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "no-such-target" in proc.stderr


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import alexnet_audit

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"alexnet-audit {alexnet_audit.__version__}"


# ------------------------------------------------------------------ limits on a single audit ---

def _error_report(tmp_path: Path, stem: str) -> dict:
    report = json.loads((tmp_path / "out" / f"{stem}.json").read_text(encoding="utf-8"))
    assert {f["status"] for f in report["findings"]} == {"error"}
    return report


@pytest.mark.slow  # a worker process, stopped after 5 s
def test_audit_timeout_stops_a_hanging_target(tmp_path, capsys):
    assert audit(tmp_path, f"{BROKEN}:hangs", "--timeout", "5") == EXIT_GATE
    out = capsys.readouterr().out
    cause = "the audit did not finish within 5 s and was stopped"
    assert f"broken_targets.hangs: ERROR - {cause}" in out
    report = _error_report(tmp_path, "broken_targets.hangs")
    assert cause in report["target"]["error"]
    assert len(report["findings"]) == len(load_spec().items)


@pytest.mark.slow  # a worker process that allocates until the parent stops it
def test_audit_memory_limit_stops_a_target_that_allocates_too_much(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "2G")  # the hog writes 4 GiB; the limit is ours, not the default
    assert audit(tmp_path, f"{BROKEN}:memory_hog") == EXIT_GATE
    out = capsys.readouterr().out
    assert "broken_targets.memory_hog: ERROR - the target used more memory than allowed (" in out
    assert "limit 2.0 GiB; set ALEXNET_AUDIT_MEMORY_LIMIT)" in out
    report = _error_report(tmp_path, "broken_targets.memory_hog")
    assert "limit 2.0 GiB" in report["target"]["error"]


def test_audit_memory_limit_garbage_is_exit_2_before_any_audit(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "lots")
    assert audit(tmp_path, "reference") == EXIT_USAGE
    assert "ALEXNET_AUDIT_MEMORY_LIMIT" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ list ---

def test_list_targets_prints_every_registered_target_and_where_it_lives(capsys):
    from alexnet_audit.target.resolve import BUILTIN_TARGETS

    assert main(["list", "targets"]) == EXIT_OK
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[:len(BUILTIN_TARGETS)] == [[name, where] for name, where in BUILTIN_TARGETS.items()]
    assert rows[:7] == [["reference", "alexnet_audit.target.bundled.builtin:reference"],
                        ["torchvision", "alexnet_audit.target.bundled.builtin:torchvision_alexnet"],
                        *[[f"seed-00{n}", f"alexnet_audit.target.bundled.seeds:seed_00{n}"] for n in range(5)]]


def test_list_probes_prints_each_probe_once_with_its_summary_and_items(capsys):
    from alexnet_audit.probes import all_probes

    assert main(["list", "probes"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    probes = all_probes()
    users: dict[str, list[str]] = {}
    for it in load_spec().items:
        users.setdefault(it.probe, []).append(it.id)
    assert [line.split()[0] for line in lines] == list(probes)  # every probe, sorted, once
    for line, (name, fn) in zip(lines, probes.items(), strict=True):
        summary = fn.__doc__.strip().splitlines()[0]
        assert line == f"{name:20} {summary}  [{', '.join(users[name])}]"
    lrn = next(line for line in lines if line.startswith("lrn_params "))
    assert lrn.endswith("[lrn.size, lrn.k, lrn.alpha, lrn.beta]")


def test_list_probes_marks_a_probe_the_spec_does_not_use(tmp_path, capsys):
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["probe"] != "context"]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["list", "probes", "--spec", str(spec)]) == EXIT_OK
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("context "))
    assert line.endswith("[unused]")


def test_list_items_prints_every_item_in_spec_order(capsys):
    assert main(["list", "items"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    spec = load_spec()
    assert [line.split()[0] for line in lines] == spec.ids
    first = spec.items[0]
    assert lines[0] == f"{first.id:32} {first.severity.value:6} {first.section:24} {first.claim}"
