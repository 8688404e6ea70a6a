"""The OS-level sandbox around every process that runs target code (Linux namespaces).

`wrap(cmd, ...)` prefixes a worker's command line so that it runs in new user, mount, network and
PID namespaces (`unshare`, from util-linux, present on every mainstream Linux; bubblewrap is not
needed). Inside, before the worker's first line, `python jail.py` (this file run as a script: the
standard library only, no site import) makes:

- the whole filesystem read-only, except the writable directories it is given (the worker's
  scratch directory) and a private tmpfs on /dev/shm;
- the user's home directory an empty tmpfs, with only what the run needs bound back read-only
  (the interpreter, the installed packages, the target's folder, the torch hub cache);
- the network its own loopback only (no route to the host or anything else);
- the worker PID 1 of its namespace (everything it starts dies with it); the supervisor in
  `sandbox` caps the processes of its group (RLIMIT_NPROC would count all of the user's).

Where namespaces are not available (not Linux, user namespaces disabled) `mechanism()` says
"none" and the caller decides: run as before with a note, or refuse (`--sandbox required`).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

UNSHARE = "namespaces (unshare)"
NONE = "none"

# Variables that running Python and PyTorch need; everything else is withheld from audited code.
KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "MPLBACKEND", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH")
KEEP_PREFIXES = ("LC_", "PYTHON", "OMP_", "MKL_", "OPENBLAS_", "CUDA_", "NVIDIA_", "CUBLAS_", "CUDNN_", "NCCL_",
                 "TORCH_", "ALEXNET_AUDIT_", "KMP_", "GOTO_", "VECLIB_")
# For `capture` (the user's own command): only what looks like a credential is withheld.
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "API_KEY", "ACCESS_KEY")
SECRET_PREFIXES = ("AWS_", "GITHUB_", "GH_", "GITLAB_", "AZURE_", "GOOGLE_APPLICATION", "HF_", "HUGGING",
                   "NPM_", "PYPI_", "TWINE_", "WANDB_API", "OPENAI_", "ANTHROPIC_", "SSH_AUTH")


def requested() -> str:
    """ALEXNET_AUDIT_SANDBOX: "auto" (the default: use it where possible), "required" or "off"."""
    value = os.environ.get("ALEXNET_AUDIT_SANDBOX", "auto").strip().lower() or "auto"
    return value if value in ("auto", "required", "off") else "auto"


@functools.lru_cache(maxsize=1)
def _probe() -> str:
    """Whether unprivileged namespaces work here: one tiny `unshare` run, cached per process."""
    if not sys.platform.startswith("linux"):
        return f"{NONE}: not Linux ({sys.platform})"
    exe = shutil.which("unshare")
    if exe is None:
        return f"{NONE}: the unshare command (util-linux) is not installed"
    try:
        done = subprocess.run([exe, "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "true"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{NONE}: unshare could not run ({exc})"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no reason given"]
        return f"{NONE}: user namespaces are not available ({why[0]})"
    return UNSHARE


def mechanism() -> str:
    """The sandbox every worker gets on this machine: UNSHARE, or "none: why"."""
    if requested() == "off":
        return f"{NONE}: turned off (ALEXNET_AUDIT_SANDBOX=off)"
    return _probe()


def available() -> bool:
    return mechanism() == UNSHARE


def filter_env(env: Mapping[str, str], *, capture: bool = False,
               pass_env: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
    """The environment audited code gets, and the names withheld (sorted; never the values).

    An audit keeps only what Python and PyTorch need; `capture` runs the user's own command and
    withholds only what looks like a credential. `pass_env` names go through either way.
    """
    allowed = set(pass_env)
    kept: dict[str, str] = {}
    withheld: list[str] = []
    for name, value in env.items():
        upper = name.upper()
        if capture:
            secret = any(w in upper for w in SECRET_WORDS) or upper.startswith(SECRET_PREFIXES) \
                or upper.endswith("_KEY")
            keep = not secret
        else:
            keep = name in KEEP_ENV or upper.startswith(KEEP_PREFIXES)
        if keep or name in allowed:
            kept[name] = value
        else:
            withheld.append(name)
    return kept, sorted(withheld)


def _needed_paths(extra: Iterable[str | Path]) -> list[str]:
    """What the worker must still read when the home directory is hidden: the interpreter, the
    installed packages (sys.path), the torch hub cache and whatever the caller adds."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths += [p for p in sys.path if p]
    paths.append(str(Path(__file__).resolve().parents[1]))  # this package (an editable install is not on sys.path)
    import importlib.util

    for name in ("alexnet_ref", "torch", "torchvision"):
        found = importlib.util.find_spec(name)
        if found is not None and found.origin:
            paths.append(os.path.dirname(os.path.dirname(found.origin)))
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch")
    paths.append(torch_home)
    paths += [str(p) for p in extra]
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if os.path.exists(real) and real not in out:
            out.append(real)
    return out


def require() -> None:
    """Refuse to run target code unconfined when ALEXNET_AUDIT_SANDBOX=required (or --sandbox required)."""
    from ..core.errors import UsageError

    if requested() == "required" and not available():
        raise UsageError(f"a sandbox is required (ALEXNET_AUDIT_SANDBOX=required) but there is none here: "
                         f"{mechanism().split(': ', 1)[-1]}")


@dataclass(frozen=True)
class Confinement:
    """Where a sandboxed process may write, and what it must still read in the hidden home."""

    writable: tuple[Path, ...]
    keep: tuple[str, ...] = ()
    pid_namespace: bool = True  # False only for a process whose children's pids the parent must know
    overlay: tuple[Path, ...] = ()  # folders whose writes land in writable[0] (capture: the user's tree)

    def wrap(self, cmd: Sequence[str]) -> list[str]:
        return wrap(cmd, writable=self.writable, keep=self.keep, pid_namespace=self.pid_namespace,
                    overlay=self.overlay)


def confinement(writable: Sequence[Path], keep: Iterable[str | Path | None] = (),
                env: Mapping[str, str] | None = None, overlay: Sequence[Path] = ()) -> Confinement | None:
    """A Confinement where the sandbox is available, else None (the process runs as before). The
    child's PYTHONPATH entries (`env`) stay readable too."""
    if not available():
        return None
    paths = [*keep, *(env or {}).get("PYTHONPATH", "").split(os.pathsep)]
    return Confinement(tuple(Path(w) for w in writable), tuple(str(k) for k in paths if k),
                       overlay=tuple(Path(o) for o in overlay))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def wrap(cmd: Sequence[str], *, writable: Sequence[Path], keep: Iterable[str | Path] = (),
         home: str | None = None, pid_namespace: bool = True, overlay: Sequence[Path] = ()) -> list[str]:
    """`cmd` run inside the sandbox: only `writable` can be written; `home` (default: the user's
    home directory) is hidden but for `keep` and the interpreter's own paths. Each `overlay`
    folder looks writable to the command, but what it writes there lands in the first writable
    folder (an overlay mount), so the folder itself stays as it was."""
    hide = os.path.realpath(home or os.environ.get("HOME") or os.path.expanduser("~"))
    args = ["unshare", "--user", "--map-root-user", "--mount", "--net"]
    if pid_namespace:
        args += ["--pid", "--fork", "--kill-child", "--mount-proc"]
    args += [sys.executable, "-I", "-S", str(Path(__file__).resolve().with_name("namespace.py"))]
    rw = [os.path.realpath(w) for w in writable]
    for w in rw:
        args += ["--writable", w]
    for o in overlay:
        args += ["--overlay", os.path.realpath(o)]
    if hide not in ("/", "") and not any(_inside(w, hide) for w in rw) and not any(_inside(hide, w) for w in rw):
        args += ["--hide", hide]
        for p in _kept_in(hide, _needed_paths(keep)):
            args += ["--keep", p]
    return [*args, "--", *cmd]


def _kept_in(home: str, needed: list[str]) -> list[str]:
    """The paths inside `home` to bind back. Where the run needs the home directory itself (the user
    works in it), everything but its dot-entries (.ssh, .aws, .config, ...: where secrets live)."""
    if home in needed:
        try:
            needed = needed + [os.path.join(home, n) for n in os.listdir(home) if not n.startswith(".")]
        except OSError:
            pass
    kept: list[str] = []
    for p in sorted(needed, key=len):
        if _inside(p, home) and p != home and not any(_inside(p, k) for k in kept):
            kept.append(p)
    return kept


def prepare_env(env: Mapping[str, str], scratch: Path, *, capture: bool = False,
                keep: Iterable[str | Path] = ()) -> tuple[dict[str, str], list[str]]:
    """The environment of a sandboxed process: filtered (`filter_env`), an empty HOME inside its
    scratch directory, TMPDIR there, and the mechanism named for the report. Also the names withheld.
    With the sandbox turned off, the environment as it is."""
    if requested() == "off":
        return {**env, "TMPDIR": str(scratch), "ALEXNET_AUDIT_SANDBOX_USED": mechanism()}, []
    pass_env = [n for n in os.environ.get("ALEXNET_AUDIT_PASS_ENV", "").split(",") if n]
    kept, withheld = filter_env(env, capture=capture, pass_env=pass_env)
    home = scratch / ".home"
    home.mkdir(exist_ok=True)
    real_home = os.path.realpath(env.get("HOME") or os.path.expanduser("~"))
    kept.update(HOME=str(home), TMPDIR=str(scratch), ALEXNET_AUDIT_SANDBOX_USED=mechanism(),
                ALEXNET_AUDIT_HIDDEN_HOME=real_home, ALEXNET_AUDIT_HIDDEN_NAMES="/".join(hidden_names(real_home, keep)))
    return kept, [n for n in withheld if n != "HOME"]


def hidden_names(home: str, keep: Iterable[str | Path] = (), limit: int = 200) -> list[str]:
    """The entries of `home` the sandbox hides entirely (none of the run's own paths is inside)."""
    try:
        names = sorted(os.listdir(home))[:limit]
    except OSError:
        return []
    kept = _kept_in(home, _needed_paths(keep))
    return [n for n in names if not any(_inside(p, os.path.join(home, n)) for p in kept)]
