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


def call_target(fn: Callable[[], T], what: str, error: type[Exception]) -> T:
    """Call a callable that the target supplied; its failure becomes `error("<what> failed: ...")`.

    MemoryError propagates (the worker reports it with the memory limit); everything else raised by
    target code, SystemExit and KeyboardInterrupt included, is the target's failure, not ours.
    """
    try:
        return fn()
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: BLE001 - target code may raise anything; it is reported
        raise error(f"{what} failed: {first_line(exc)}") from exc
