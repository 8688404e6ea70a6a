"""What audited code tried to do outside its scratch directory, recorded for the report's run notes.

An audit hook (PEP 578) in the worker sees each attempt before the OS sandbox refuses it: a write or
a removal outside the scratch directory, a read in the hidden home, a connection, a child process.
The note says what was attempted and, where the sandbox ran, that it was contained; the verdicts do
not depend on it. Child interpreters carry no hook: the sandbox still contains them, and the
attempt to start one is what the note shows.
"""
from __future__ import annotations

import os
import sys
from typing import Any

MAX_NOTES = 12
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SYSTEM = ("/dev/", "/proc/", "/sys/")


class Attempts:
    """The audit hook's record: one line per distinct attempt, in the order they happened."""

    def __init__(self, scratch: str, hidden_home: str, hidden: list[str]) -> None:
        self.scratch = os.path.realpath(scratch)
        self.home = hidden_home.rstrip("/") + "/" if hidden_home not in ("", "/") else ""
        self.hidden = set(hidden)  # the home directory's entries the sandbox hides
        self.seen: list[str] = []
        self.active = False

    def _outside(self, path: Any) -> str | None:
        if not isinstance(path, str | bytes) or isinstance(path, int):
            return None
        text = os.fsdecode(path)
        full = os.path.abspath(text)
        if full == self.scratch or full.startswith(self.scratch + "/") or full.startswith(_SYSTEM):
            return None
        return full

    def _add(self, line: str) -> None:
        if line not in self.seen and len(self.seen) < MAX_NOTES:
            self.seen.append(line)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        self.active = False  # nothing we call below may re-enter
        try:
            self._record(event, args)
        finally:
            self.active = True

    def _record(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags & _WRITE_FLAGS)
            full = self._outside(path)
            if full is not None and writes:
                self._add(f"write {full}")
            elif full is not None and self.home and full.startswith(self.home) \
                    and full[len(self.home):].split("/", 1)[0] in self.hidden:
                self._add(f"read {full} (in the home directory, which the sandbox hides)")
        elif event in ("os.remove", "os.rmdir", "os.rename", "shutil.rmtree") and args:
            full = self._outside(args[0])
            if full is not None:
                self._add(f"{'rename' if event == 'os.rename' else 'delete'} {full}")
        elif event == "socket.connect" and len(args) >= 2:
            self._add(f"connect to {args[1]!r}")
        elif event == "subprocess.Popen" and len(args) >= 2:
            cmd = args[1] if isinstance(args[1], list | tuple) else [args[1]]
            self._add(f"run {' '.join(str(c) for c in cmd)[:120]}")

    def notes(self, mechanism: str) -> list[str]:
        """One run note per attempt: contained where the sandbox ran, else said plainly."""
        if not self.seen:
            return []
        how = "the sandbox contained it" if not mechanism.startswith("none") else \
            "no sandbox ran here, so it may have succeeded"
        return [f"The target tried to {line} ({how})." for line in self.seen]


def install(scratch: str) -> Attempts:
    """Start recording (an audit hook cannot be removed; `active` switches it off and on)."""
    hidden = [n for n in os.environ.get("ALEXNET_AUDIT_HIDDEN_NAMES", "").split("/") if n]
    rec = Attempts(scratch, os.environ.get("ALEXNET_AUDIT_HIDDEN_HOME", ""), hidden)
    sys.addaudithook(rec.hook)
    rec.active = True
    return rec
