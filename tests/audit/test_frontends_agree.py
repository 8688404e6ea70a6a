"""Acceptance: `alexnet-audit audit`, `alexnet-audit compare` and the pytest plugin gate one target
the same way, waivers and --require-explained included (issue: one run path for every front end).

The target is a YAML manifest over a small hand-written net (two LRN layers, a residual add that
the measurements cannot rebuild, so it is unexplained) with two LRN defects: k=1 (lrn.k) and
beta=0.5 (lrn.beta). The manifest waives both; a waivers file overrides the reason of lrn.k (the
file wins) and waives lrn.size, which does not deviate (a stale waiver, which fails). The spec is
cut to the five `lrn.*` items so that each audit takes seconds.

Every front end writes its JSON report; their `summary.gate` blocks must be equal to each other
and to the block written out below, and every front end must fail. A front end that merged the
waivers another way (the target's over the file's, or without the target's), or that did not
apply --require-explained, gives another block: another reason for lrn.k, lrn.k or lrn.beta
failing, no `stale`, or no `require_explained` and a pass.

`compare` takes no waivers file, so it is compared on the manifest's waivers only (first test);
`audit` and the plugin are compared with the file too (second test).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

NET = '''
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """LRN with k=1 and beta=0.5 (two defects), and a residual add the rebuild cannot explain."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.c2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.c3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.fc = nn.Linear(384 * 6 * 6, 1000)

    def forward(self, x):
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c1(x)), 5, 5e-4, 0.5, 1.0), 3, 2)
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c2(x)), 5, 5e-4, 0.5, 1.0), 3, 2)
        x = F.relu(self.c3(x)) + F.pad(x, (0, 0, 0, 0, 0, 128))
        return self.fc(F.max_pool2d(x, 3, 2).flatten(1))
'''

MANIFEST = """\
name: lrn-net
model: net.py:Net
waivers:
  lrn.k: "manifest: k=1 as in the checkpoint"
  lrn.beta: "manifest: beta=0.5 as in the checkpoint"
"""

WAIVERS_FILE = """\
lrn.k: "file: k=1 accepted for this release"
lrn.size: "file: size was 3 once"
"""

# The gate every front end must write. Target waivers only (what `compare` can be given):
GATE_TARGET_WAIVERS = {
    "fail_on": "minor",
    "passed": False,  # unexplained, and --require-explained
    "failing": [],
    "waived": {"lrn.beta": "manifest: beta=0.5 as in the checkpoint", "lrn.k": "manifest: k=1 as in the checkpoint"},
    "require_explained": True,
}
# ... and with the waivers file: its lrn.k wins over the manifest's, the manifest's lrn.beta stays,
# its lrn.size waives an item that does not deviate (stale: it fails).
GATE_WITH_FILE = {
    "fail_on": "minor",
    "passed": False,
    "failing": ["lrn.size"],
    "waived": {"lrn.beta": "manifest: beta=0.5 as in the checkpoint", "lrn.k": "file: k=1 accepted for this release"},
    "require_explained": True,
    "stale": ["lrn.size"],
}


@pytest.fixture
def here(pytester: pytest.Pytester) -> Path:
    """The working directory of all three runs: the cut spec, the net, its manifest, the waivers."""
    from alexnet_audit.spec.load import default_spec_path

    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"].startswith("lrn.")]
    (pytester.path / "lrn_spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (pytester.path / "net.py").write_text(NET, encoding="utf-8")
    (pytester.path / "target.yaml").write_text(MANIFEST, encoding="utf-8")
    (pytester.path / "waivers.yaml").write_text(WAIVERS_FILE, encoding="utf-8")
    return pytester.path


def gate_block(out: Path) -> dict:
    """`summary.gate` of the one target report in `out` (not the comparison)."""
    reports = [p for p in out.glob("*.json") if p.stem != "comparison"]
    assert [p.name for p in reports] == ["lrn-net.json"], sorted(p.name for p in out.iterdir())
    data = json.loads(reports[0].read_text(encoding="utf-8"))
    assert data["summary"]["explained"]["ok"] is False  # the premise: the net is unexplained
    return data["summary"]["gate"]


def run_cli(*args: str) -> int:
    from alexnet_audit.cli.main import main

    return main(list(args))


def run_plugin(pytester: pytest.Pytester, out: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--paper-target=target.yaml",
                                         "--paper-spec=lrn_spec.yaml", "--paper-require-explained",
                                         f"--paper-report={out}", *extra)


def plugin_outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k not in ("seconds",)}


@pytest.mark.slow  # three audits in worker processes
def test_audit_compare_and_plugin_gate_alike_on_the_targets_waivers(pytester, here, capsys):
    common = ["--spec", "lrn_spec.yaml", "--require-explained", "--fail-on", "minor"]
    audit_rc = run_cli("audit", "target.yaml", "--out", "audit_out", *common)
    compare_rc = run_cli("compare", "target.yaml", "--out", "compare_out", *common)
    capsys.readouterr()
    plugin = run_plugin(pytester, "plugin_out")

    blocks = {name: gate_block(here / f"{name}_out") for name in ("audit", "compare", "plugin")}
    assert blocks["audit"] == blocks["compare"] == blocks["plugin"], blocks
    assert blocks["audit"] == GATE_TARGET_WAIVERS
    assert (audit_rc, compare_rc, plugin.ret) == (1, 1, pytest.ExitCode.TESTS_FAILED)
    # the plugin's items say the same: the waived deviations xfail, the explained test fails
    assert plugin_outcomes(plugin) == {"passed": 3, "xfailed": 2, "failed": 1}
    plugin.stdout.fnmatch_lines(["FAILED paper_audit::explained - unexplained: *"])


@pytest.mark.slow  # two audits in worker processes
def test_audit_and_plugin_gate_alike_with_a_waivers_file(pytester, here, capsys):
    audit_rc = run_cli("audit", "target.yaml", "--out", "audit_out", "--spec", "lrn_spec.yaml", "--require-explained",
                       "--waivers", "waivers.yaml")
    out = capsys.readouterr().out
    plugin = run_plugin(pytester, "plugin_out", "--paper-waivers=waivers.yaml")

    audit, plug = gate_block(here / "audit_out"), gate_block(here / "plugin_out")
    assert audit == plug, (audit, plug)
    assert audit == GATE_WITH_FILE
    assert (audit_rc, plugin.ret) == (1, pytest.ExitCode.TESTS_FAILED)
    assert plugin_outcomes(plugin) == {"passed": 2, "xfailed": 2, "failed": 2}  # lrn.size (stale), explained
    # one summary line, printed alike by both
    line = next(ln for ln in out.splitlines() if ln.startswith("lrn-net: "))
    assert line.endswith("gate fail-on=minor: FAIL (lrn.size, unexplained)"), line
    plugin.stdout.fnmatch_lines([line])
