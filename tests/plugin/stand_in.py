"""The stand-in the plugin tests run against: a 10-item spec whose probe (`stub`, registered by the
run's conftest) reads a value out of a plain-dict target, so every outcome mapping is reached in one
cheap run; and the helpers that run pytest on it."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

TINY_SPEC = """\
format: alexnet-audit/spec
version: "0.0-test"
paper: {title: t, authors: a, venue: v, url: "http://example.invalid"}
items:
"""
# id, severity, probe params, expected, extra yaml
TINY_ITEMS = [
    ("t.pass", "major", "{key: a}", "1", ""),
    ("t.variant", "minor", "{key: b}", "2", "variants: [{name: three, value: 3, why: the paper is ambiguous}]"),
    ("t.skip", "major", "{skip: the target gives no recipe}", "0", ""),
    ("t.deviation", "major", "{key: d}", "4", ""),
    ("t.info", "info", "{key: f}", "6", ""),
    ("t.waived", "minor", "{key: g}", "7", ""),
    ("t.stale", "minor", "{key: h}", "8", ""),
    ("t.expired", "major", "{key: i}", "9", ""),
    ("t.error", "major", "{key: err}", "11", ""),
    ("t.minor", "minor", "{key: j}", "10", ""),
]

# Groups other than `architecture`: words no id, severity or node name contains, so `-k training`
# can only select by group.
GROUPS = {"t.deviation": "training", "t.info": "training", "t.minor": "training"}

STUB_CONFTEST = '''\
"""Stand-in probe for the plugin tests: reads params['key'] out of the plain dict the target builds."""
from alexnet_audit import probes as _probes
from alexnet_audit.core.findings import Observation, Skip


def _stub(ctx, item):
    if "skip" in item.params:
        raise Skip(item.params["skip"])
    values = ctx.cached("stub_values", ctx.target.model)
    return Observation(values[item.params["key"]], where=f"values[{item.params['key']!r}]")


def pytest_configure(config):
    _probes.PROBES["stub"] = _stub


def pytest_unconfigure(config):  # in-process runs share the registry with the outer session
    _probes.PROBES.pop("stub", None)
'''

TINY_TARGET = '''\
"""Plain-dict stand-in targets (the model factory returns the values the stub probe reads)."""
MUTANT = dict(a=1, b=3, d=40, f=60, g=70, h=8, i=90, j=100)  # no 'err': that probe raises KeyError
CLEAN = dict(a=1, b=2, d=4, f=6, g=7, h=8, i=9, j=10, err=11)

mutant = {"model": lambda: dict(MUTANT), "batch_size": 128}
clean = {"model": lambda: dict(CLEAN)}


def broken():
    raise RuntimeError("cannot build: weights file missing")
'''

WAIVERS = """\
t.waived: k=1 kept until the retrain
t.stale: {reason: fixed upstream, until: 2999-01-01}
t.expired: {reason: temporary, until: 2000-01-01}
"""

EXPECTED = {  # outcome of each item for tiny_target.py:mutant with WAIVERS, default fail-on=minor
    "t.pass": "passed", "t.variant": "passed", "t.skip": "skipped", "t.deviation": "failed", "t.info": "passed",
    "t.waived": "xfailed", "t.stale": "failed", "t.expired": "failed", "t.error": "error", "t.minor": "failed",
}


def spec_text() -> str:
    out = [TINY_SPEC]
    for item_id, sev, params, expected, extra in TINY_ITEMS:
        group = GROUPS.get(item_id, "architecture")
        out.append(f"  - id: {item_id}\n    group: {group}\n    claim: \"{item_id} claim\"\n"
                   f"    section: \"§{item_id}\"\n    severity: {sev}\n    probe: stub\n    params: {params}\n"
                   f"    expected: {expected}\n    fix: \"fix {item_id} like this\"\n")
        if extra:
            out.append(f"    {extra}\n")
    return "".join(out)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In-process (fast: torch is imported once); see `run_sub` for the user's real path."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def run_sub(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A fresh interpreter: the plugin loads from its entry point, nothing is imported beforehand."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def tiny_args(target: str = "mutant", *extra: str) -> list[str]:
    """The options that audit a stand-in target of tiny_target.py against the stand-in spec."""
    return [f"--paper-target=tiny_target.py:{target}", "--paper-spec=tiny_spec.yaml", *extra]


def junit(path: Path) -> dict[str, dict]:
    """name -> {'outcome': ..., 'text': ..., 'props': {...}, 'classname': ...} from a junit xml file."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, text = ("failed" if child.tag == "failure" else "error"), (child.text or "")
            elif child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                text = child.get("message") or ""
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        out[case.get("name")] = {"outcome": outcome, "text": text, "props": props, "classname": case.get("classname")}
    return out
