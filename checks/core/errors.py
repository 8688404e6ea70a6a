"""Exceptions and message helpers shared by the library and its entry points.

The library raises these; the CLI and the pytest plugin turn them into one line and an exit code.
Living here (not in `cli`) keeps the library free of imports from its own front ends.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def first_line(exc: BaseException, *, with_type: bool = True) -> str:
    """`ValueError: first line of the message` (or only the type when the message is empty)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if not with_type:
        return line
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def call_target(fn: Callable[[], T], what: str, error: type[Exception], *, context: str = "") -> T:
    """Call a callable that the target supplied; its failure becomes `error("<what> failed<context>: ...")`.

    MemoryError propagates (the worker reports it with the memory limit), and so does
    KeyboardInterrupt (the user's Ctrl-C). Anything else raised by target code, SystemExit included,
    is the target's failure, not a reason for the audit to stop.
    """
    try:
        return fn()
    except MemoryError:
        raise
    except (Exception, SystemExit) as exc:
        raise error(f"{what} failed{context}: {first_line(exc)}") from None
