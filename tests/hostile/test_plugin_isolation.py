"""The pytest plugin runs the target in the same isolated worker as `alexnet-audit audit`.

Before, `pytest --paper-target=` imported the target into the pytest process: `os._exit(0)` in a
model's forward ended the session with exit 0 and no output (a CI gate passed), and `SystemExit`
or `KeyboardInterrupt` from the target printed some 32,000 lines of `'NoneType' object has no
attribute 'verdicts'` tracebacks. Now each paper test errors with the cause in one line, the session
fails, and the target's files and prints stay out of the user's tree and terminal.
"""
from __future__ import annotations

import json
import os

import pytest

EXITING = '''\
import os
import sys

import torch.nn as nn

import alexnet_ref


class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(10)

    def forward(self, x):
        CODE


def build():
    return Exits()
'''

CASES = {
    "os._exit(0)": "exited with status 0 without a result",
    "raise SystemExit(0)": "SystemExit: 0",
    "raise KeyboardInterrupt": "KeyboardInterrupt",
}


PYTESTER_FILES = {"stdout", "stderr", "runpytest-0", "runpytest-1", "runpytest-current"}  # pytester's, not ours


def _listing(pytester: pytest.Pytester) -> list[str]:
    return sorted(set(os.listdir(pytester.path)) - PYTESTER_FILES)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


@pytest.mark.slow
@pytest.mark.parametrize("body", list(CASES))
def test_a_target_that_exits_errors_every_paper_test_in_one_line(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(exits=EXITING.replace("CODE", body))
    result = _run(pytester, "--paper-target=exits.py:build", "--paper-report=out", "-q")
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # never 0, never an internal error
    assert "Traceback" not in text and "AttributeError" not in text and "INTERNALERROR" not in text
    assert len(text.splitlines()) < 400, "the failure floods the terminal"
    assert "paper target 'exits.py:build' could not be audited: " in text and CASES[body] in text
    outcomes = result.parseoutcomes()
    from alexnet_audit.spec.load import load_spec

    assert outcomes.get("errors") == len(load_spec().items) and not outcomes.get("passed")  # every item errors
    report = json.loads((pytester.path / "out" / "exits.build.json").read_text(encoding="utf-8"))
    assert all(f["status"] == "error" for f in report["findings"])
    assert _listing(pytester) == ["exits.py", "out"]  # no __pycache__ beside the target


@pytest.mark.slow
def test_the_target_runs_outside_the_pytest_process(pytester: pytest.Pytester) -> None:
    """Files the target writes at import land in the worker's scratch directory; its prints in the log."""
    pytester.makepyfile(noisy='''\
import logging
import os

import alexnet_ref

os.makedirs("alexnet_data_out/models", exist_ok=True)
logging.basicConfig(filename="app.log", level=logging.INFO)
print("THe initial weight is", 0.01)


def build():
    return alexnet_ref.alexnet(10)
''')
    result = _run(pytester, "--paper-target=noisy.py:build", "--paper-report=out", "-q", "-k", "arch.conv1")
    text = result.stdout.str()
    assert "THe initial weight" not in text
    assert result.ret == pytest.ExitCode.OK, text
    assert _listing(pytester) == ["noisy.py", "out"]
    assert "THe initial weight is 0.01" in (pytester.path / "out" / "noisy.build.log").read_text(encoding="utf-8")


def test_a_nonsense_paper_timeout_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--paper-target=reference", "--paper-timeout=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--paper-timeout takes a number of seconds > 0" in result.stderr.str()


GATED = '''\
import torch
import torch.nn as nn

import alexnet_ref


class Gated(nn.Module):
    """The reference with a squeeze-style gate on its output: nothing the audit can classify."""

    def __init__(self):
        super().__init__()
        self.net = alexnet_ref.alexnet(1000)

    def forward(self, x):
        y = self.net(x)
        return y * torch.sigmoid(y.mean(1, keepdim=True))


def build():
    return Gated()
'''


@pytest.mark.slow
def test_paper_require_explained_adds_one_test_that_fails_when_unexplained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(gated=GATED)
    result = _run(pytester, "--paper-target=gated.py:build", "--paper-require-explained", "-k", "explained",
                  "--paper-fail-on=never", "-q")
    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    result.assert_outcomes(failed=1)
    assert "unexplained: " in text and "Traceback" not in text
    ok = _run(pytester, "--paper-target=reference", "--paper-require-explained", "-k", "explained", "-q")
    ok.assert_outcomes(passed=1)


@pytest.mark.slow
def test_the_paper_audit_fixture_audits_a_target_string_in_a_worker(pytester: pytest.Pytester) -> None:
    """A conftest's `paper_target` string goes through the same worker; the target's print stays out."""
    pytester.makepyfile(noisy='''\
import alexnet_ref

print("THe initial weight is", 0.01)


def build():
    return alexnet_ref.alexnet(10)
''')
    pytester.makeconftest('''\
import pytest


@pytest.fixture(scope="session")
def paper_target():
    return "noisy.py:build"
''')
    pytester.makepyfile(test_paper='''\
def test_gate(paper_audit):
    assert paper_audit.name == "noisy.build"
    assert {f.id for f in paper_audit.report.findings} >= {"arch.conv1.out_channels", "lrn.k"}
    assert "arch.fc8.out_features" in paper_audit.gate.failing  # 10 classes, not the paper's 1000
''')
    result = _run(pytester, "-q", "-s")
    assert "THe initial weight" not in result.stdout.str()
    result.assert_outcomes(passed=1)
