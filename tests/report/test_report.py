"""alexnet_audit.report: JSON and markdown reports, the comparison and the heatmap.

Most tests build Reports by hand (fast); one real audit checks end-to-end determinism.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alexnet_audit.core.findings import Observation, Report
from alexnet_audit.judge.verdict import errored, judge, skipped
from alexnet_audit.report import (
    anchor,
    fidelity,
    report_to_dict,
    review_claims,
    safe_name,
    to_json,
    to_markdown,
    write_comparison,
    write_reports,
)
from alexnet_audit.spec.load import GROUPS, load_spec

SPEC = load_spec()

# Observations that make the synthetic report deviate / use variants on chosen items.
OBSERVED = {
    "lrn.k": 1.0,  # deviation, minor
    "lrn.alpha": 2.0e-5,  # variant (alpha/n)
    "arch.conv2.groups": 1,  # variant (single-GPU)
    "lrn.placement": {"conv1": "relu>pool", "conv2": "relu>pool"},  # deviation, major (impact: 1.4%)
    "dropout.placement": ["pool5", "fc6"],  # deviation, major
    "pool.kernel_size": 2,  # deviation, major (impact: 0.4%)
}
LAYERS = [
    {"layer": "conv1", "kind": "conv", "modules": ["features.0"], "output_shape": [64, 55, 55], "neurons": 193600,
     "paper_neurons": 290400, "params": 23296, "paper_params": 34944, "macs": 70276800, "paper_macs": 105415200,
     "macs_source": "flop_counter"},
    {"layer": "fc6", "kind": "linear", "modules": ["classifier.1"], "output_shape": [4096], "neurons": 4096,
     "paper_neurons": 4096, "params": 37752832, "paper_params": 37752832, "macs": 37748736,
     "paper_macs": 37748736, "macs_source": "shape"},
]


@dataclass
class StandInGate:
    """The duck type of alexnet_audit.gate.evaluate.GateResult that the report reads."""

    passed: bool = False
    fail_on: str = "minor"
    failing: list = field(default_factory=lambda: ["lrn.placement", "lrn.k"])
    waived: dict = field(default_factory=lambda: {"pool.kernel_size": "2x2 pooling chosen on purpose"})

    def summary_line(self, name: str) -> str:
        return f"{name}: gate {'PASS' if self.passed else 'FAIL'}"


def unpad(md: str) -> str:
    """Markdown with the tables' column padding removed (tabulate aligns columns with spaces)."""
    lines = []
    for line in md.splitlines():
        if line.startswith("|"):
            line = re.sub(r" {2,}\|", " |", re.sub(r"\| {2,}", "| ", line))
            line = re.sub(r"\|:?-+:?(?=\|)", "|---", line)
        lines.append(line)
    return "\n".join(lines) + ("\n" if md.endswith("\n") else "")


def make_report(name="demo", observed=OBSERVED, skip_groups=("data",), error_ids=("info.results",), claims=None,
                layers=LAYERS, notes=("A synthetic target.",)) -> Report:
    findings = []
    for it in SPEC.items:
        if it.id in error_ids:
            findings.append(errored(it, "context probe failed: RuntimeError: boom"))
        elif it.group in skip_groups:
            findings.append(skipped(it, "the target gives no train_transform"))
        elif it.id in observed:
            findings.append(judge(it, Observation(observed[it.id], evidence="measured on a crafted input",
                                                  where="features.lrn1")))
        else:
            findings.append(judge(it, Observation(copy.deepcopy(it.expected)), {"num_classes": 1000}))
    target = {"name": name, "source": "tests.report.test_report:demo", "input_size": [3, 224, 224], "num_classes": 1000,
              "recipe": ["optimizer"], "declared": [], "notes": list(notes)}
    if claims:
        target["claims"] = claims
    return Report(target=target, spec={"version": SPEC.version, "sha256": SPEC.sha256}, findings=findings,
                  extras={"layers": copy.deepcopy(layers)})


# ------------------------------------------------------------------ JSON -----------------------

def test_json_is_deterministic_and_valid():
    a = to_json(make_report(), SPEC, StandInGate())
    b = to_json(make_report(), SPEC, StandInGate())
    assert a == b
    data = json.loads(a)
    assert data == report_to_dict(make_report(), SPEC, StandInGate())  # round-trips: plain JSON data
    assert a.endswith("\n") and "timestamp" not in a and "date" not in data


def test_json_shape_and_order():
    data = report_to_dict(make_report(), SPEC, StandInGate())
    assert list(data) == ["format", "target", "spec", "environment", "summary", "findings", "layers"]
    assert data["format"] == "alexnet-audit/report@1"
    assert list(data["target"]) == sorted(data["target"])
    assert data["spec"] == {"version": SPEC.version, "sha256": SPEC.sha256}
    assert set(data["environment"]) == {"alexnet_audit", "torch", "torchvision", "python"}
    assert re.fullmatch(r"\d+\.\d+", data["environment"]["python"])
    s = data["summary"]
    assert list(s) == ["items", "counts", "deviations_by_severity", "fidelity_score", "fidelity_coverage", "gate"]
    assert list(s["counts"]) == ["pass", "variant", "deviation", "skip", "error"]
    assert s["counts"]["deviation"] == 4 and s["counts"]["variant"] == 2 and s["counts"]["error"] == 1
    assert s["deviations_by_severity"] == {"major": 3, "minor": 1, "info": 0}
    assert s["gate"] == {"fail_on": "minor", "passed": False, "failing": ["lrn.placement", "lrn.k"],
                         "waived": {"pool.kernel_size": "2x2 pooling chosen on purpose"}}
    assert [f["id"] for f in data["findings"]] == SPEC.ids  # spec order
    for f in data["findings"]:
        assert list(f)[:9] == ["id", "status", "severity", "expected", "observed", "message", "where", "group",
                               "section"]
    by = {f["id"]: f for f in data["findings"]}
    assert by["lrn.alpha"]["variant"] == "alpha/n convention"
    assert by["pool.kernel_size"]["waived"] == "2x2 pooling chosen on purpose"
    assert by["lrn.k"]["evidence"] == "measured on a crafted input"
    assert data["layers"] == LAYERS


def test_findings_follow_spec_order_whatever_the_report_order():
    r = make_report()
    r.findings.reverse()
    assert [f["id"] for f in report_to_dict(r, SPEC)["findings"]] == SPEC.ids


def test_floats_rounded_and_values_normalised(tmp_path):
    import torch

    obs = {"lrn.k": 1.23456789123, "lrn.beta": (0.7500000001,), "init.biases": {"conv1": -0.0, "conv2": float("nan")},
           "lrn.size": torch.tensor([5.000000001, 1e-12], dtype=torch.float64)}
    r = make_report()
    for f in r.findings:  # set directly: the judge never sees these
        if f.id in obs:
            f.observed = obs[f.id]
    data = report_to_dict(r, SPEC)
    by = {f["id"]: f for f in data["findings"]}
    assert by["lrn.k"]["observed"] == 1.23457
    assert by["lrn.beta"]["observed"] == [0.75]
    assert by["init.biases"]["observed"] == {"conv1": 0.0, "conv2": "nan"}
    assert by["lrn.size"]["observed"] == [5.0, 1e-12]
    assert "NaN" not in json.dumps(data, allow_nan=False)


def test_no_checkout_paths_or_addresses_in_reports():
    r = make_report()
    r.target["source"] = str(Path.cwd() / "models" / "mine.py") + ":Net"
    r.findings[0].message = "probe failed on <object Foo at 0x7f3a2b1c9d80>"
    text = to_json(r, SPEC) + to_markdown(r, SPEC)
    assert str(Path.cwd()) not in text
    assert "0x7f3a2b1c9d80" not in text
    assert report_to_dict(r, SPEC)["target"]["source"] == "models/mine.py:Net"


def test_fidelity_score():
    f = [
        {"status": "pass", "severity": "major"},
        {"status": "variant", "severity": "minor"},
        {"status": "deviation", "severity": "major"},
        {"status": "deviation", "severity": "info"},  # info never counts
        {"status": "skip", "severity": "major"},  # not measured
        {"status": "error", "severity": "minor"},  # not measured
    ]
    got = fidelity(f)
    assert got["score"] == round(100 * 4 / 7, 1)
    assert got["coverage"] == round(100 * 7 / 11, 1)
    assert fidelity([{"status": "error", "severity": "major"}])["score"] is None
    assert fidelity([{"status": "pass", "severity": "minor"}])["score"] == 100.0


# ------------------------------------------------------------------ markdown -------------------

@pytest.fixture(scope="module")
def md() -> str:
    return unpad(to_markdown(make_report(), SPEC, StandInGate()))


def test_markdown_is_deterministic(md):
    assert unpad(to_markdown(make_report(), SPEC, StandInGate())) == md


def test_header_and_verdict(md):
    head = md.split("## Findings by section")[0]
    assert head.startswith("# AlexNet fidelity report: demo")
    assert f"`paper_spec.yaml` {SPEC.version} (sha256 `{SPEC.sha256[:12]}`)" in head
    assert "torch " in head and "torchvision " in head
    score = report_to_dict(make_report(), SPEC)["summary"]["fidelity_score"]
    assert f"**Fidelity score: {score:.1f} / 100**" in head
    n = len(SPEC.items)
    n_data = sum(1 for it in SPEC.items if it.group == "data")
    assert f"| {n - 2 - 4 - n_data - 1} | 2 | 4 | {n_data} | 1 | {n} |" in head
    assert "**3 major**, 1 minor, 0 info" in head
    assert "**Gate** (`--fail-on minor`): ❌ fails; 2 blocking: [lrn.placement](#lrn-placement)" in head
    assert "waived [pool.kernel_size](#pool-kernel_size): 2x2 pooling chosen on purpose" in head


def test_gate_absent_or_passing():
    assert "**Gate**: not evaluated." in to_markdown(make_report(), SPEC)
    text = to_markdown(make_report(), SPEC, StandInGate(passed=True, failing=[], waived={}))
    assert "**Gate** (`--fail-on minor`): ✅ passes." in text


def test_one_table_per_group_with_symbols(md):
    groups = [g for g in GROUPS if any(it.group == g for it in SPEC.items)]
    assert md.count("| id | claim | expected | observed | status | paper |") == len(groups)
    assert "### Local response normalisation" in md and "### Initialisation" in md
    row = next(line for line in md.splitlines() if line.startswith("| [lrn.k](#lrn-k)"))
    assert "❌ deviation · minor" in row and "§3.3" in row
    assert "🟡 variant · minor" in next(line for line in md.splitlines() if line.startswith("| [lrn.alpha]"))
    assert "✅ pass" in next(line for line in md.splitlines() if "`lrn.size`" in line)
    assert "⏭ skip" in md and "💥 error · info" in md


def test_every_item_has_exactly_one_anchor(md):
    for item_id in SPEC.ids:
        assert md.count(f'<a id="{anchor(item_id)}"></a>') == 1, item_id
    assert anchor("lrn.alpha") == "lrn-alpha"
    assert anchor("arch.conv1.out_channels") == "arch-conv1-out_channels"


def _block(md: str, item_id: str) -> str:
    start = md.index(f'### <a id="{anchor(item_id)}"></a>')
    end = md.find("\n### ", start + 1)
    return md[start:] if end < 0 else md[start:end]


def test_deviation_blocks_explain_and_fix(md):
    data = report_to_dict(make_report(), SPEC)
    devs = [f for f in data["findings"] if f["status"] == "deviation"]
    assert devs
    for f in devs:
        block = _block(md, f["id"])
        item = SPEC.item(f["id"])
        assert item.claim in block and item.section in block
        assert f"**Fix**: {item.fix}" in block
        assert "**Why it matters**" in block
        assert "**Observed**" in block and "**Evidence**" in block
    assert "1.4%" in _block(md, "lrn.placement")  # the paper's own LRN ablation figure
    assert "0.4%" in _block(md, "pool.kernel_size")  # overlapping pooling
    assert "nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)" in _block(md, "lrn.k")
    assert "**Waived**: 2x2 pooling chosen on purpose" in _block(md, "pool.kernel_size")


def test_variant_blocks_give_the_accepted_reading(md):
    block = _block(md, "lrn.alpha")
    assert "**Accepted reading**: *alpha/n convention*" in block
    assert SPEC.item("lrn.alpha").variants[0].why in block
    assert "## Accepted variants" in md


def test_unchecked_items_listed_with_reasons(md):
    section = md.split("## What could not be checked")[1].split("\n## ")[0]
    assert "`data.hflip`" in section and "the target gives no train_transform" in section
    assert "`info.results`" in section and "RuntimeError: boom" in section


def test_layer_table_and_notes_rendered(md):
    section = md.split("## Per-layer table")[1].split("\n## ")[0]
    assert "MACs = FLOPs/2 as counted by `torch.utils.flop_counter`, forward pass, batch 1" in section
    assert "| conv1 | `features.0` | 64×55×55 | **193,600** | 290,400 | **23,296** | 34,944 | **70.3 M** |" in section
    assert "37.7 M †" in section and "† computed from the layer's shape" in section
    assert "## Target notes\n\n- A synthetic target." in md


def test_layers_error_is_reported():
    r = make_report(layers=[])
    r.extras["layers_error"] = "ImportError: no trace"
    assert report_to_dict(r, SPEC)["layers_error"] == "ImportError: no trace"
    assert "could not be built: ImportError: no trace" in to_markdown(r, SPEC)


def test_values_rendered_compactly(md):
    row = next(line for line in md.splitlines() if "`init.weights`" in line)
    assert "conv1…fc8 (all 8): {mean: 0, std: 0.01, shape: normal}" in row
    row = next(line for line in md.splitlines() if "`arch.layer_sequence`" in line)
    assert "(22 entries)" in row and "…" in row
    assert "60,965,224" in md


# ------------------------------------------------------------------ claims ---------------------

CLAIMS = {
    "lrn.k": {"said": "deviation", "quote": "k is left at PyTorch's default of 1"},  # right
    "dropout.placement": {"said": "pass", "quote": "dropout sits where the paper puts it"},  # wrong
    "pool.type": {"said": "pass", "quote": "max pooling throughout"},  # right
    "lrn.alpha": {"said": "deviation", "quote": "alpha is off by a factor 5"},  # wrong: accepted variant
    "arch.conv2.groups": {  # wrong
        "said": "pass", "quote": "conv2 matches", "correction": "it is the ungrouped variant"},
    "data.hflip": {"said": "deviation", "quote": "no flips"},  # unverified: skipped
    "arch.no_such_item": {"said": "pass", "quote": "?"},  # unknown item
}


def test_claims_review_logic():
    findings = report_to_dict(make_report(), SPEC)["findings"]
    rows = review_claims(CLAIMS, findings)
    verdict = {r["id"]: r["verdict"] for r in rows}
    assert verdict == {
        "lrn.k": "right",
        "pool.type": "right",
        "dropout.placement": "wrong",
        "lrn.alpha": "wrong",
        "arch.conv2.groups": "wrong",
        "lrn.placement": "missed",
        "pool.kernel_size": "missed",
        "data.hflip": "unverified",
        "arch.no_such_item": "unknown item",
    }
    assert [r["verdict"] for r in rows] == sorted((r["verdict"] for r in rows),
                                                  key=["wrong", "missed", "right", "unverified",
                                                       "unknown item"].index)
    assert next(r for r in rows if r["id"] == "dropout.placement")["quote"] == "dropout sits where the paper puts it"


def test_claims_section_only_with_claims(md):
    title = "## What the seed analysis got right and what it got wrong"
    assert title not in md
    text = unpad(to_markdown(make_report(claims=CLAIMS), SPEC))
    section = text.split(title)[1].split("\n## ")[0]
    assert "**2 right**, **3 wrong**, **2 missed**" in section
    assert ("| [dropout.placement](#dropout-placement) | pass | “dropout sits where the paper puts it” | ❌ deviation "
            "| ❌ wrong | dropout.placement differs from the paper:") in section
    row = next(line for line in section.splitlines() if line.startswith("| [arch.conv2.groups]"))
    assert "🟡 variant | ❌ wrong |" in row and "it is the ungrouped variant" in row
    row = next(line for line in section.splitlines() if line.startswith("| [lrn.k]"))
    assert row.endswith("| ✅ right | |")
    assert "| [lrn.placement](#lrn-placement) | — (not mentioned) |" in section
    assert "⚠️ missed" in section and "`arch.no_such_item`" in section
    data = report_to_dict(make_report(claims=CLAIMS), SPEC)
    assert {r["id"] for r in data["claims_review"]} >= set(CLAIMS) - {"arch.no_such_item"}


# ------------------------------------------------------------------ writers --------------------

def test_write_reports(tmp_path):
    r = make_report(name="models/my net.py:Net")
    paths = write_reports(r, SPEC, tmp_path / "out", gate=StandInGate())
    assert [p.name for p in paths] == ["models-my-net.py-Net.md", "models-my-net.py-Net.json"]
    assert paths[0].read_text(encoding="utf-8") == to_markdown(r, SPEC, StandInGate())
    assert paths[1].read_text(encoding="utf-8") == to_json(r, SPEC, StandInGate())
    assert [p.name for p in write_reports(r, SPEC, tmp_path, formats=["json"])] == ["models-my-net.py-Net.json"]
    with pytest.raises(ValueError):
        write_reports(r, SPEC, tmp_path, formats=["html"])
    assert safe_name("seed-004") == "seed-004"


def test_comparison_with_an_error_target(tmp_path):
    good = report_to_dict(make_report(name="demo"), SPEC, StandInGate())
    broken_report = Report(target={"name": "broken", "source": "x:y"}, spec=good["spec"],
                           findings=[errored(it, "target timed out after 120 s") for it in SPEC.items])
    broken = report_to_dict(broken_report, SPEC)
    paths = write_comparison([good, broken], tmp_path)
    assert [p.name for p in paths] == ["comparison.md", "comparison.json", "comparison.png", "comparison.csv"]
    md = unpad(paths[0].read_text(encoding="utf-8"))
    assert "| [demo](demo.md) |" in md
    assert re.search(rf"\| \[broken\]\(broken\.md\) \| n/a \| 0 \| 0 \| 0 \| 0 \| 0 \| 0 \| {len(SPEC.items)} \|", md)
    assert "**broken could not be audited**: target timed out after 120 s" in md
    row = next(line for line in md.splitlines() if line.startswith("| `lrn.k` |"))
    assert "[❌](demo.md#lrn-k)" in row and "[💥](broken.md#lrn-k)" in row
    assert "✅ pass · 🟡 accepted variant · ❌ deviation" in md  # legend
    assert "![status of every item on every target](comparison.png)" in md
    assert "| conv1 | 34,944 | **23,296** | — |" in md  # parameters across targets, paper column
    data = json.loads(paths[1].read_text(encoding="utf-8"))
    assert data["format"] == "alexnet-audit/comparison@1"
    assert [t["name"] for t in data["targets"]] == ["demo", "broken"]
    assert data["targets"][1]["counts"]["error"] == len(SPEC.items)
    lrn_k = next(it for it in data["items"] if it["id"] == "lrn.k")
    assert lrn_k["statuses"] == ["deviation", "error"]


def test_heatmap_is_a_deterministic_png(tmp_path):
    results = [report_to_dict(make_report(name=n), SPEC) for n in ("a", "b")]
    one = write_comparison(results, tmp_path / "one")[2].read_bytes()
    two = write_comparison(results, tmp_path / "two")[2].read_bytes()
    assert one.startswith(b"\x89PNG\r\n\x1a\n") and len(one) > 5000
    assert one == two
    assert b"Software" not in one and b"matplotlib" not in one.lower()
    again = write_comparison(json.loads(json.dumps(results)), tmp_path / "three")  # as compare reads them back
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in write_comparison(results, tmp_path / "one")]


def test_comparison_of_nothing(tmp_path):
    md = write_comparison([], tmp_path)[0].read_text(encoding="utf-8")
    assert "No targets." in md


# ------------------------------------------------------------------ a real audit ---------------

def _audit_twice(tmp_path):
    import torch

    import alexnet_ref
    from alexnet_audit.audit.verify import verify
    from alexnet_audit.target.record import from_object

    out = []
    for run in ("A", "B"):
        # Each audit starts from the same global RNG state, as each `alexnet-audit audit` process does
        # (from_object builds the first model instance outside Context.build_model's seeding).
        torch.manual_seed(0)
        target = from_object("reference-model", lambda: alexnet_ref.alexnet(num_classes=10), "alexnet_ref:alexnet")
        report = verify(SPEC, target)
        out.append(write_reports(report, SPEC, tmp_path / run, gate=StandInGate(passed=True, failing=[], waived={})))
    return out


def test_two_real_audits_give_identical_files(tmp_path):
    a, b = _audit_twice(tmp_path)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    data = json.loads(a[1].read_text(encoding="utf-8"))
    assert len(data["layers"]) == 8 and "layers_error" not in data  # conv1..conv5, fc6..fc8


def test_load_reports_and_comparison_csv(tmp_path: Path) -> None:
    """load_reports gives one row per target x item; comparison.csv is the same table."""
    import pandas as pd

    from alexnet_audit.report import load_reports, write_comparison

    spec = SPEC
    a = report_to_dict(make_report(name="a"), spec)
    b = report_to_dict(make_report(name="b"), spec)
    for d in (a, b):
        (tmp_path / f"{d['target']['name']}.json").write_text(json.dumps(d), encoding="utf-8")
    paths = write_comparison([a, b], tmp_path)
    frame = load_reports(tmp_path)  # comparison.json is not a per-target report and is left out
    assert list(frame["target"].unique()) == ["a", "b"]
    assert len(frame) == 2 * len(spec.items)
    assert list(frame[frame["target"] == "a"]["id"]) == spec.ids
    csv = next(p for p in paths if p.suffix == ".csv")
    again = pd.read_csv(csv)
    assert list(again["status"]) == list(frame["status"])
    assert load_reports(tmp_path / "missing").empty
