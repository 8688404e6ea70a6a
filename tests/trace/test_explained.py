"""The audit checks itself (issue 12, Build 5): a network rebuilt from the measurements alone, with
the target's weights, reproduces the target's outputs; where it does not, the report says where,
the structural findings from there on carry `explained: false`, and --require-explained fails."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_audit.audit.pipeline import run_audit
from alexnet_audit.gate.evaluate import unexplained_message
from alexnet_audit.probes.context import Context
from alexnet_audit.report import report_to_dict, to_markdown
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object
from alexnet_audit.target.resolve import load_target
from alexnet_audit.trace.rebuild import explain, show_error
from tests.catalogues.mutants.model import MUTANTS

BUNDLED = ["reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003", "seed-004"]


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def _explain(spec, target):
    return explain(Context(target, spec))


class _Blocks(nn.Module):
    """A plain AlexNet body in the style of many repositories: modules for the layers, functional
    pools, and one hook point `mid` between conv1's block and conv2."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.c2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.c3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.c4 = nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.c5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.f6, self.f7, self.f8 = nn.Linear(9216, 4096), nn.Linear(4096, 4096), nn.Linear(4096, 1000)

    def mid(self, x):
        return x

    def conv3(self, x):
        return F.relu(self.c3(x))

    def forward(self, x):
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c1(x)), 5, 5e-4, 0.75, 2.0), 3, 2)
        x = self.mid(x)
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c2(x)), 5, 5e-4, 0.75, 2.0), 3, 2)
        x = F.relu(self.c4(self.conv3(x)))
        x = F.max_pool2d(F.relu(self.c5(x)), 3, 2).flatten(1)
        x = F.dropout(F.relu(self.f6(x)), 0.5, self.training)
        return self.f8(F.dropout(F.relu(self.f7(x)), 0.5, self.training))


class ChannelGate(_Blocks):
    """A squeeze-style gate after block 1, x * sigmoid(mean over space): no activation, no §3.3
    normalisation; the audit can only call it `other`."""

    def mid(self, x):
        return x * torch.sigmoid(x.mean((2, 3), keepdim=True))


class Residual(_Blocks):
    """conv3's block feeds a residual sum with its own input padded to 384 maps: a branch that a
    chain of measured ops cannot carry."""

    def conv3(self, x):
        return F.relu(self.c3(x)) + F.pad(x, (0, 0, 0, 0, 0, 128))


@pytest.mark.parametrize("name", BUNDLED)
def test_the_bundled_targets_are_explained(spec, name):
    e = _explain(spec, load_target(name))
    assert e.ok, e.to_dict()
    assert e.first_divergence is None and e.opaque == []
    assert e.to_dict()["max_rel_error"] in ("< 1e-6", "< 1e-5")


def test_the_report_carries_summary_explained(spec):
    result = run_audit(spec, load_target("reference"), require_explained=True)
    data = report_to_dict(result.report, spec, result.gate)
    assert data["summary"]["explained"] == {"ok": True, "max_rel_error": "< 1e-6", "first_divergence": None,
                                            "opaque": []}
    assert result.passed and "unexplained" not in result.summary_line()
    assert not any("explained" in f for f in data["findings"])
    md = to_markdown(result.report, spec, result.gate)
    assert "The measurements reproduce the model's outputs (max relative error < 1e-6)" in md
    assert json.dumps(data)  # plain data


def test_an_unclassifiable_region_is_opaque_not_explained(spec):
    result = run_audit(spec, from_object("gate", ChannelGate, "gate"))
    e = result.report.extras["explained"]
    assert e["ok"] is False and e["first_divergence"] is None
    assert len(e["opaque"]) == 1 and e["opaque"][0].startswith("other")
    by = result.report.by_id()
    assert by["arch.conv1.out_channels"].explained is None  # before the opaque region: explained
    assert by["arch.conv5.out_channels"].explained is False  # after it: rests on an incomplete measurement
    assert "unexplained" in result.summary_line()
    md = to_markdown(result.report, spec, result.gate)
    assert "replaying what the audit could classify only as `other`" in md


def test_a_branch_the_trace_cannot_carry_is_a_divergence_and_fails_the_required_gate(spec):
    result = run_audit(spec, from_object("residual", Residual, "residual"), require_explained=True, fail_on="never")
    e = result.report.extras["explained"]
    assert e["ok"] is False
    assert e["first_divergence"]["at"] == "pad3" and e["first_divergence"]["reason"]  # the add after conv3's pad
    assert not result.passed  # fail-on never, but --require-explained
    line = result.summary_line()
    assert "unexplained" in line and "FAIL (unexplained)" in line
    data = report_to_dict(result.report, spec, result.gate)
    assert data["summary"]["gate"]["require_explained"] is True
    flagged = [f["id"] for f in data["findings"] if f.get("explained") is False]
    assert "arch.conv5.out_channels" in flagged and "arch.conv1.out_channels" not in flagged
    md = to_markdown(result.report, spec, result.gate)
    assert "The measurements stop reproducing the model at" in md and "`explained: false`" in md


def test_without_require_explained_the_gate_only_notes_it(spec):
    result = run_audit(spec, from_object("residual", Residual, "residual"), fail_on="never")
    assert result.passed and "unexplained" in result.summary_line()


def test_a_measured_constant_is_reproduced_to_its_precision(spec):
    """x / 255 before conv1: the measured scale keeps its significant digits (0.00392157), so the
    rebuild reproduces it; rounded to 6 decimals (0.003922) it stopped at the scale."""
    from tests.catalogues.wild.models import ExtraScaleNet

    e = _explain(spec, from_object("div255", lambda: ExtraScaleNet(1 / 255), "test"))
    assert e.ok, e.to_dict()


def test_unexplained_message_names_the_first_divergence():
    explained = {"ok": False, "first_divergence": {"at": "lrn1", "reason": "k differs"}, "opaque": []}
    assert unexplained_message(explained) == "unexplained: the measurements stop reproducing the model at lrn1: " \
        "k differs."


def test_errors_are_shown_deterministically():
    assert show_error(2.4e-7) == "< 1e-6"
    assert show_error(3e-6) == "< 1e-5"
    assert show_error(0.0) == "< 1e-6"
    assert show_error(0.19486) == 0.19


@pytest.mark.slow  # the model catalogue: a traced pass per mutant
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_model_mutant_is_explained(spec, mutant):
    e = _explain(spec, from_object(mutant.name, mutant.build(), mutant.name))
    assert e.ok, e.to_dict()


_RESIDUAL_FILE = '''
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.c2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.c3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.fc = nn.Linear(384 * 6 * 6, 1000)

    def forward(self, x):
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c1(x)), 5, 5e-4, 0.75, 2.0), 3, 2)
        x = F.max_pool2d(F.local_response_norm(F.relu(self.c2(x)), 5, 5e-4, 0.75, 2.0), 3, 2)
        x = F.relu(self.c3(x)) + F.pad(x, (0, 0, 0, 0, 0, 128))
        return self.fc(F.max_pool2d(x, 3, 2).flatten(1))
'''


@pytest.mark.slow  # two audits in worker processes
def test_cli_require_explained_fails_the_gate(tmp_path, capsys):
    import yaml

    from alexnet_audit.cli.main import EXIT_GATE, EXIT_OK, main
    from alexnet_audit.spec.load import default_spec_path

    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"].startswith("lrn.")]  # a cheap audit
    cut = tmp_path / "lrn_spec.yaml"
    cut.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (tmp_path / "res.py").write_text(_RESIDUAL_FILE, encoding="utf-8")
    args = ["audit", f"{tmp_path / 'res.py'}:Net", "--spec", str(cut), "--out", str(tmp_path / "out")]
    assert main(args) == EXIT_OK  # not required: noted only
    assert "unexplained; gate fail-on=minor: PASS" in capsys.readouterr().out
    assert main([*args, "--require-explained"]) == EXIT_GATE
    out = capsys.readouterr().out
    assert "FAIL (unexplained)" in out and "unexplained: the measurements stop reproducing the model at" in out
    report = json.loads((tmp_path / "out" / "res.Net.json").read_text(encoding="utf-8"))
    assert report["summary"]["explained"]["ok"] is False
    assert report["summary"]["gate"]["passed"] is False and report["summary"]["gate"]["require_explained"] is True
    assert "--require-explained" in (tmp_path / "out" / "res.Net.md").read_text(encoding="utf-8")


def _wild():
    from tests.catalogues.wild.test_wild import WILD

    return WILD


@pytest.mark.slow  # a traced pass per wild form
@pytest.mark.parametrize("form", _wild(), ids=lambda x: x.name)
def test_every_wild_form_is_explained(spec, form):
    """Faithful or defective, the wild forms are measured right: the rebuild reproduces each."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.* is deprecated in this torch
        model = form.build()
    e = _explain(spec, from_object(form.name, model, "test"))
    assert e.ok, e.to_dict()


@pytest.mark.slow
def test_compare_require_explained_fails_the_run(tmp_path, monkeypatch):
    """`compare --require-explained` hands the flag to each worker: an unexplained target fails the
    run even under the default fail-on never; without the flag the same run exits 0."""
    import contextlib
    import io

    from alexnet_audit.cli.compare import compare

    (tmp_path / "gated.py").write_text(
        "import torch\nimport alexnet_ref\n\n\nclass Gated(torch.nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.net = alexnet_ref.alexnet(1000)\n\n    def forward(self, x):\n"
        "        y = self.net(x)\n        return y * torch.sigmoid(y.mean(1, keepdim=True))\n\n\n"
        "def build():\n    return Gated()\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        assert compare(["gated.py:build"], out=tmp_path / "a") == 0
        assert compare(["gated.py:build"], out=tmp_path / "b", require_explained=True) == 1
    import json

    report = json.loads((tmp_path / "b" / "gated.build.json").read_text(encoding="utf-8"))
    assert report["summary"]["gate"]["passed"] is False and report["summary"]["explained"]["ok"] is False
