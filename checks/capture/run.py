"""`alexnet-audit capture`: run a repository's own training command under instrumentation, then audit it.

The command runs in its own process group, in a scratch working directory, with the time and
memory limits `compare` uses; its output goes to `DIR/<name>.log`, never to ours. A bootstrap
`sitecustomize` on PYTHONPATH installs the instrumentation (`child.py`) before the script's first
line. What it recorded becomes `DIR/<name>.yaml`, an ordinary manifest, which is audited in the
isolated worker like `alexnet-audit audit DIR/<name>.yaml`, so the reports are the same bytes.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

BOOTSTRAP = '''"""alexnet-audit capture: instrument this run (see alexnet_audit.capture.child)."""
import os

if os.environ.get("ALEXNET_AUDIT_CAPTURE"):
    from alexnet_audit.capture.child import start

    start()
'''
PYTHONS = ("python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}")


def _command(command: list[str], cwd: Path) -> list[str]:
    """`python` as this interpreter (where the instrumentation is installed); existing relative paths absolute."""
    out = []
    for i, arg in enumerate(command):
        if i == 0 and Path(arg).name in PYTHONS:
            out.append(sys.executable)
        elif not arg.startswith("-") and not os.path.isabs(arg) and (cwd / arg).exists():
            out.append(str((cwd / arg).resolve()))
        elif arg.startswith("--") and "=" in arg and (cwd / arg.split("=", 1)[1]).exists():
            key, value = arg.split("=", 1)
            out.append(f"{key}={(cwd / value).resolve()}")
        else:
            out.append(arg)
    return out


def run_command(command: list[str], *, steps: int, timeout: float, cwd: Path) -> tuple[dict[str, Any], str, str]:
    """Run the command captured; returns (record, the script's error in one line or '', its output)."""
    from ..isolate import jail, sandbox
    from ..isolate.client import memory_limit
    from ..isolate.client import worker_env as _env

    scratch = Path(tempfile.mkdtemp(prefix="alexnet-capture-"))
    try:
        boot = scratch / ".bootstrap"
        boot.mkdir()
        (boot / "sitecustomize.py").write_text(BOOTSTRAP, encoding="utf-8")
        work = scratch / "run"
        work.mkdir()
        record = scratch / ".capture.json"
        env, _ = jail.prepare_env(_env(1), scratch, capture=True, keep=[cwd])  # the user's own command
        env["PYTHONPATH"] = os.pathsep.join([str(boot), *filter(None, [env.get("PYTHONPATH")])])
        env.update(ALEXNET_AUDIT_CAPTURE=str(record), ALEXNET_AUDIT_CAPTURE_CWD=str(cwd),
                   ALEXNET_AUDIT_CAPTURE_STEPS=str(steps), TMPDIR=str(work))
        stdout, stderr = scratch / ".stdout.txt", scratch / ".stderr.txt"
        ended = sandbox.run_limited(_command(command, cwd), cwd=work, env=env, stdout=stdout, stderr=stderr,
                                    timeout=timeout, memory=memory_limit(), what="the training command",
                                    confine=jail.confinement([scratch], [cwd], env))
        _, _, log = sandbox.read_output(stdout, stderr)
        rec: dict[str, Any] = {}
        if record.is_file():
            try:
                rec = json.loads(record.read_text(encoding="utf-8"))
            except ValueError:
                rec = {}
        if not rec:
            tail = sandbox.stderr_tail(stderr)
            error = ended.cause or f"the command never started Python with the instrumentation ({tail or 'no output'})"
            return {}, error, log
        error = str(rec.get("error") or "")
        if ended.cause and not rec.get("finished"):
            error = ended.cause
        elif not error and ended.rc not in (0, None) and not rec.get("finished"):
            error = sandbox.describe_exit(ended.rc, sandbox.stderr_tail(stderr), "the training command")
        if rec.get("finished") and rec.get("opt_steps", 0) > 0 and error:
            rec.setdefault("notes", []).append(f"after the captured part the script failed: {error}")
            error = ""
        return rec, error, log
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
