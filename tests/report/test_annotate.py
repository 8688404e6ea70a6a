"""The terminal and CI views of a report (issue 23): compiler-style lines, GitHub Actions workflow
commands, the job summary, and the markdown's links to source lines."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alexnet_audit.core.findings import Location, Observation, Report
from alexnet_audit.judge.verdict import errored, judge
from alexnet_audit.report import compiler_lines, github_annotations, report_to_dict, step_summary
from alexnet_audit.report.annotate import append_step_summary, in_github_actions
from alexnet_audit.report.locations import links_for
from alexnet_audit.report.markdown import render
from alexnet_audit.spec.load import load_spec

SPEC = load_spec()


class _Gate:
    passed, fail_on = False, "minor"

    def __init__(self, failing: list[str], waived: dict[str, str]) -> None:
        self.failing, self.waived = failing, waived


def data(waived: dict[str, str] | None = None) -> dict[str, Any]:
    placement = judge(SPEC.item("dropout.placement"), Observation(["pool5", "fc6"], "order", "drop5, drop6"))
    placement.location = [Location("model.py", 74), Location("model.py", 77)]
    k = judge(SPEC.item("lrn.k"), Observation(1.0, "fit", "lrn1"))
    k.location = [Location("nets/alex net.py", 12)]
    info = judge(SPEC.item("train.epochs"), Observation(30, "declared", ""))
    err = errored(SPEC.item("lrn.beta"), "lrn_params probe failed: RuntimeError: a, b: c")
    ok = judge(SPEC.item("lrn.size"), Observation(5, "fit", "lrn1"))
    ok.location = [Location("model.py", 70)]
    report = Report(target={"name": "mine", "source": "model.py:build"},
                    spec={"version": SPEC.version, "sha256": SPEC.sha256}, findings=[placement, k, info, err, ok])
    return report_to_dict(report, SPEC, _Gate(["dropout.placement", "lrn.beta"], waived or {}))


def _of(lines: list[str], fid: str) -> str:
    return next(line for line in lines if f" {fid} [" in f" {line}" or f"title={fid} [" in line)


def test_compiler_lines_name_file_line_id_severity_and_message() -> None:
    lines = compiler_lines(data())
    assert len(lines) == 4  # passes are not listed; spec order
    assert [line.split(" [")[0].split(": ")[-1] for line in lines] == ["lrn.k", "lrn.beta", "dropout.placement",
                                                                         "train.epochs"]
    assert _of(lines, "dropout.placement") == (
        "model.py:74: dropout.placement [major] dropout.placement differs from the paper: [0]: expected fc6, got "
        "pool5; [1]: expected fc7, got fc6. (also model.py:77)")
    assert _of(lines, "lrn.k") == "nets/alex net.py:12: lrn.k [minor] lrn.k must be 2 (got 1)."
    assert _of(lines, "train.epochs").startswith("train.epochs [info] ")  # no location: the line starts at the id
    assert _of(lines, "lrn.beta") == "lrn.beta [minor] error: lrn_params probe failed: RuntimeError: a, b: c"


def test_waived_findings_are_not_flagged() -> None:
    lines = compiler_lines(data({"lrn.k": "kept until the retrain"}))
    assert len(lines) == 3 and not any(" lrn.k [" in f" {line}" for line in lines)


def test_github_annotations_one_per_finding_escaped() -> None:
    notes = github_annotations(data(), {"GITHUB_ACTIONS": "true"})
    assert len(notes) == 4
    assert _of(notes, "dropout.placement") == (
        "::error file=model.py,line=74,title=dropout.placement [major]::dropout.placement differs from the paper: "
        "[0]: expected fc6, got pool5; [1]: expected fc7, got fc6. (also model.py:77)")
    assert _of(notes, "lrn.k") == ("::warning file=nets/alex net.py,line=12,title=lrn.k [minor]::"
                                   "lrn.k must be 2 (got 1).")
    assert _of(notes, "train.epochs").startswith("::notice title=train.epochs [info]::")
    assert _of(notes, "lrn.beta") == ("::error title=lrn.beta [minor]::"
                                      "error: lrn_params probe failed: RuntimeError: a, b: c")


def test_annotation_properties_escape_commas_and_colons_and_messages_newlines() -> None:
    d = data()
    f = next(f for f in d["findings"] if f["id"] == "dropout.placement")
    f["message"] = "50% of\nit"
    f["location"] = {"path": "a,b:c.py", "line": 3}
    note = _of(github_annotations(d, {}), "dropout.placement")
    assert note == "::error file=a%2Cb%3Ac.py,line=3,title=dropout.placement [major]::50%25 of it"


def test_a_run_in_a_subfolder_of_the_checkout_prefixes_it(tmp_path: Path, monkeypatch) -> None:
    sub = tmp_path / "src" / "net"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    note = _of(github_annotations(data(), {"GITHUB_WORKSPACE": str(tmp_path)}), "dropout.placement")
    assert note.startswith("::error file=src/net/model.py,line=74,")
    outside = _of(github_annotations(data(), {"GITHUB_WORKSPACE": str(tmp_path / "other")}), "dropout.placement")
    assert outside.startswith("::error file=model.py,line=74,")


def test_the_step_summary_has_the_verdict_and_the_deviations_table(tmp_path: Path) -> None:
    text = step_summary(data({"lrn.k": "kept"}))
    assert text.startswith("# alexnet-audit: mine\n\n## Verdict\n")
    assert "**Gate** (`--fail-on minor`): ❌ fails" in text
    assert "](#" not in text  # the report's in-page links have no anchors in a job summary
    assert "## Deviations" in text
    row = next(line for line in text.splitlines() if line.startswith("| `dropout.placement`"))
    assert "`model.py:74`, `model.py:77`" in row and "| major" in row
    assert any(line.startswith("| `lrn.k`") and "deviation (waived)" in line for line in text.splitlines())
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n", encoding="utf-8")
    assert append_step_summary(text, {"GITHUB_STEP_SUMMARY": str(path)}) == path
    assert path.read_text(encoding="utf-8") == "earlier step\n" + text + ("" if text.endswith("\n") else "\n")
    assert append_step_summary(text, {}) is None


def test_github_actions_is_read_from_the_environment() -> None:
    assert in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not in_github_actions({"GITHUB_ACTIONS": "false"}) and not in_github_actions({})


def test_the_markdown_shows_locations_and_links_them_inside_the_tree(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("x = 1\n", encoding="utf-8")
    d = data()
    unlinked = render(d, SPEC)
    assert "- **Location**: `model.py:74`, `model.py:77`" in unlinked
    linked = render(d, SPEC, links_for(tmp_path / "reports", root=tmp_path))
    assert "- **Location**: [`model.py:74`](../model.py#L74), [`model.py:77`](../model.py#L77)" in linked
    assert "- **Location**: `nets/alex net.py:12`" in linked  # no such file in the tree: not linked
    assert links_for(tmp_path / "reports", root=tmp_path / "elsewhere") is None
    beside = render(d, SPEC, links_for(tmp_path, root=tmp_path))
    assert "[`model.py:74`](model.py#L74)" in beside


def test_a_run_that_measured_nothing_is_one_error_annotation() -> None:
    from alexnet_audit.report.annotate import error_annotation

    assert error_annotation("m.build: ERROR - 100% out of\nmemory") == \
        "::error title=alexnet-audit::m.build: ERROR - 100%25 out of memory"
