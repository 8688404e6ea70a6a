"""Reading what users hand us (spec, manifests, waivers, names) with one-line errors.

Every message names the file (and key) and, for a misspelt name, suggests the closest valid one,
so bad input never surfaces as a traceback. Input is bounded: a YAML file is at most
`MAX_YAML_BYTES`, its aliases may not expand it past `MAX_YAML_NODES` nodes (a "billion laughs"
document otherwise takes minutes and gigabytes), and a quoted value is cut to one short line.
"""
from __future__ import annotations

import argparse
import difflib
import math
import re
import reprlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import UsageError

MAX_YAML_BYTES = 1 << 20  # 1 MiB: the packaged spec is ~30 KB
MAX_YAML_ALIASES = 1_000
MAX_YAML_NODES = 100_000  # after alias expansion; the packaged spec has ~2,000
SHORT_REPR = 80

_repr = reprlib.Repr()
_repr.maxlevel = 8
_repr.maxstring = _repr.maxother = _repr.maxlong = SHORT_REPR
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = _repr.maxfrozenset = SHORT_REPR // 2


def short_repr(value: Any, limit: int = SHORT_REPR) -> str:
    """repr(value) on one line of at most `limit` characters (cut with '…'), for quoting user values.

    Built with reprlib, so even a huge or nested value costs little to show.
    """
    try:
        text = _repr.repr(value)
    except Exception:  # a repr that raises: name the type
        text = f"<{type(value).__name__}>"
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: object, limit: int = 2 * SHORT_REPR) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(bad: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest choice, matching dotted ids on their last part too."""
    options = list(choices)
    close = difflib.get_close_matches(bad, options, n=1, cutoff=cutoff)
    if not close:  # "k" -> "lrn.k"
        tails = {c.rsplit(".", 1)[-1]: c for c in options if "." in c}
        close = [tails[t] for t in difflib.get_close_matches(bad.rsplit(".", 1)[-1], list(tails), n=1, cutoff=0.8)]
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------------- YAML ---

class _TooBig(Exception):
    """Raised inside the loader; read_yaml turns it into the caller's one-line error."""


def _loader_class() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that counts aliases while composing and reads impossible dates as strings."""

        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    raise _TooBig(f"more than {MAX_YAML_ALIASES:,} YAML aliases")
            return super().compose_node(parent, index)

    def lenient_timestamp(loader: Any, node: Any) -> Any:
        # `until: 2026-02-30` matches the timestamp pattern but is no date; PyYAML raises a bare
        # ValueError. Keep the text: the key's own validation then names the file and the key.
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", lenient_timestamp)
    return BoundedLoader


_LOADER: type | None = None


def _expanded_nodes(root: Any) -> int:
    """Nodes of the document with every alias expanded, counted on the shared graph (linear time).

    Stops early past MAX_YAML_NODES; an alias inside its own anchor (infinite) raises _TooBig.
    """
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        return []

    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            sizes[key] = min(MAX_YAML_NODES + 1, 1 + sum(sizes[id(c)] for c in children(node)))
            if sizes[key] > MAX_YAML_NODES:
                return sizes[key]
            continue
        if key in sizes:
            continue
        if key in open_:
            raise _TooBig("a YAML alias refers to a node that contains it (recursive data)")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children(node) if id(c) not in sizes)
    return sizes[id(root)]


def read_yaml(path: str | Path, what: str, error: type[Exception],
              max_bytes: int = MAX_YAML_BYTES) -> tuple[Any, bytes]:
    """Safe-load a YAML file; returns (data, raw bytes) or raises `error` with one line.

    Refuses a file over `max_bytes`, more than MAX_YAML_ALIASES aliases, or aliases that expand
    the document past MAX_YAML_NODES nodes, before building any Python value from it.
    """
    global _LOADER
    import yaml

    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror or exc}).") from None
    if len(raw) > max_bytes:
        size = f"{max_bytes >> 20} MiB" if max_bytes % (1 << 20) == 0 else f"{max_bytes:,} bytes"
        raise error(f"{p}: larger than {size}; refusing to read it as {what}.")
    try:  # decoded here, so that a bad byte is one line with its place (YAML's reader raises from its constructor)
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{p}: line {line}, column {column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                    "save the file as UTF-8.") from None
    if _LOADER is None:
        _LOADER = _loader_class()
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_nodes(node) > MAX_YAML_NODES:
            raise _TooBig(f"YAML aliases expand it to more than {MAX_YAML_NODES:,} nodes")
        return (loader.construct_document(node) if node is not None else None), raw
    except _TooBig as exc:
        raise error(f"{p}: refusing to load {what}: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{p}: not valid YAML{at}: {_clip(getattr(exc, 'problem', None) or exc)}.") from None
    except RecursionError:
        raise error(f"{p}: not valid YAML: nested too deeply.") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. `!!int abc`, `!!float x`
        raise error(f"{p}: not valid YAML: {_clip(exc)}.") from None
    finally:
        loader.dispose()


# ------------------------------------------------------------------------- environment ---

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory_limit(text: str) -> int:
    """Bytes from ALEXNET_AUDIT_MEMORY_LIMIT: `4000000000`, `4e9`, `512M`, `4G`, `4GiB` (0: no limit).

    K/M/G/T are powers of 1024. Anything else raises UsageError with one line, rather than
    silently running without the limit the user asked for.
    """
    m = _SIZE.match(text)
    value = float(m.group(1)) * _UNITS[m.group(2).lower()] if m else math.nan
    if not math.isfinite(value):
        raise UsageError("ALEXNET_AUDIT_MEMORY_LIMIT must be a number of bytes such as 4000000000, 4e9, 512M or 4G "
                         f"(0 for no limit; got {short_repr(text)}).")
    return int(value)


def checked_arg(parse: Callable[[str], float], ok: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type: `parse` the text, refuse it unless `ok` (a one-line usage error, exit 2)."""

    def convert(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            value = math.nan
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{what} (got {short_repr(text)})")
        return value

    return convert


# 0, negative or nan would kill or never limit every target
timeout_arg = checked_arg(float, lambda v: math.isfinite(v) and v > 0, "--timeout takes a number of seconds > 0")
