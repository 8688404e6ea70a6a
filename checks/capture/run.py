"""`alexnet-audit capture`: run a repository's own training command under instrumentation, then audit it.

The command runs as typed, where the user typed it: the current directory, relative PYTHONPATH
entries and `VAR=value` prefixes, `python -m pkg.mod`, `-c` code and relative paths in arguments
and configs all mean what they mean in the user's shell. Its writes are kept out of the user's
tree: in the OS sandbox the current directory is an overlay whose changes land in the scratch
directory (so compiled code and child processes are covered too); without it, the Python-level
redirection of `fs` moves them there. It runs in its own process group, with the time and memory
limits `compare` uses; its output goes to `DIR/<name>.log`, never to ours. A bootstrap
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
NOTEBOOK = ".ipynb"
PYTHONS = ("python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}")


def split_command(command: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading `NAME=value` words (as a shell reads `PYTHONPATH=. python train.py`), and the rest
    with `python` as this interpreter (where the instrumentation is installed)."""
    env: dict[str, str] = {}
    rest = list(command)
    while rest and "=" in rest[0] and rest[0].split("=", 1)[0].isidentifier():
        name, value = rest.pop(0).split("=", 1)
        env[name] = value
    notebook = notebook_in(rest)
    if notebook is not None:  # run by our cell runner, in this interpreter (capture/cells.py)
        own = Path(rest[0]).name in PYTHONS or notebook == 0  # jupyter's and papermill's options are theirs
        args = rest[notebook + 1:] if own else []
        return env, [sys.executable, "-m", f"{__package__}.cells", rest[notebook], *args]
    if rest and Path(rest[0]).name in PYTHONS:
        rest[0] = sys.executable
    return env, rest


def notebook_in(words: list[str]) -> int | None:
    """Where the notebook is in a command that runs one (`nb.ipynb`, `python nb.ipynb`, `jupyter
    nbconvert --execute nb.ipynb`, `jupyter execute nb.ipynb`, `papermill nb.ipynb out.ipynb`), else None."""
    if not words:
        return None
    if words[0].endswith(NOTEBOOK):
        return 0
    runner = Path(words[0]).name
    if runner in PYTHONS or runner in ("jupyter", "papermill", "ipython", "ipython3"):
        return next((i for i, w in enumerate(words[1:], start=1) if w.endswith(NOTEBOOK)), None)
    return None


def _python_shims(folder: Path) -> None:
    """`python` and `python3` on PATH as this interpreter, for a shell script that starts Python."""
    folder.mkdir()
    for name in PYTHONS:
        (folder / name).symlink_to(sys.executable)


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
        typed_env, argv = split_command(command)
        env, _ = jail.prepare_env({**_env(1), **typed_env}, scratch, capture=True, keep=[cwd])  # the user's own
        _python_shims(scratch / ".bin")
        env["PATH"] = os.pathsep.join([str(scratch / ".bin"), *filter(None, [env.get("PATH")])])
        env["PYTHONPATH"] = os.pathsep.join([str(boot), *filter(None, [env.get("PYTHONPATH")])])
        env.update(ALEXNET_AUDIT_CAPTURE=str(record), ALEXNET_AUDIT_CAPTURE_CWD=str(cwd),
                   ALEXNET_AUDIT_CAPTURE_STEPS=str(steps), TMPDIR=str(work))
        stdout, stderr = scratch / ".stdout.txt", scratch / ".stderr.txt"
        confine = jail.confinement([scratch], [cwd], env, overlay=[cwd])
        ended = sandbox.run_limited(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr, timeout=timeout,
                                    memory=memory_limit(), what="the training command", confine=confine)
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
