"""Judge behaviour that `make mutation` showed untested (mutants of alexnet_audit/judge/verdict.py that survived
tests/judge/test_judge.py): "$num_classes" inside mappings and sequences and with no declared count,
inclusive tolerances that reach nested values, the places a difference is reported at, the fields a
finding carries, the layer sequence's covered differences, and skipped/errored findings."""
from __future__ import annotations

import pytest

from alexnet_audit.core.findings import Observation, Severity, Status
from alexnet_audit.judge.verdict import differences, errored, judge, show_value, skipped
from alexnet_audit.spec.load import Item, Variant, load_spec


def _item(expected, tolerance=None, variants=(), params=None, severity=Severity.MINOR) -> Item:
    return Item(id="x.y", group="architecture", claim="c", section="§0", severity=severity, probe="p",
                expected=expected, tolerance=tolerance or {}, variants=tuple(variants), fix="f", params=params or {})


# ------------------------------------------------------------------------------ $num_classes ---

def test_num_classes_is_resolved_inside_mappings_and_sequences() -> None:
    ctx = {"num_classes": 10}
    assert judge(_item({"fc8": "$num_classes"}), Observation({"fc8": 10}), ctx).status is Status.PASS
    assert judge(_item(["$num_classes", 4]), Observation([10, 4]), ctx).status is Status.PASS
    assert judge(_item([{"out": "$num_classes"}]), Observation([{"out": 10}]), ctx).status is Status.PASS
    f = judge(_item({"fc8": "$num_classes"}), Observation({"fc8": 1000}), ctx)
    assert f.status is Status.DEVIATION and f.message == "x.y differs from the paper: fc8: expected 10, got 1000."
    assert f.expected == {"fc8": "$num_classes"}  # the spec's value, as the report shows it


def test_num_classes_without_a_declared_count_is_a_deviation_that_says_so() -> None:
    for ctx in (None, {}):
        assert judge(_item("$num_classes"), Observation(1000), ctx).status is Status.DEVIATION
    nested = judge(_item({"fc8": "$num_classes"}), Observation({"fc8": None}), {})
    assert nested.message == "x.y differs from the paper: fc8: the target declares no value to compare with."
    listed = judge(_item(["$num_classes"]), Observation([10]), {})
    assert listed.message == "x.y differs from the paper: [0]: the target declares no value to compare with."


def test_a_scalar_num_classes_without_a_count_says_the_target_declares_none() -> None:
    f = judge(_item("$num_classes"), Observation(1000), {})
    assert f.status is Status.DEVIATION and "object at 0x" not in f.message
    assert f.message == "x.y differs from the paper: the target declares no value for $num_classes to compare with."


# ------------------------------------------------------------------------------- tolerances ---

def test_a_tolerance_bound_is_inclusive_and_relative_tolerance_defaults_to_none() -> None:
    assert judge(_item(0.5, {"abs": 0.25}), Observation(0.75)).status is Status.PASS  # exactly on the bound
    assert judge(_item(0.5, {"abs": 0.25}), Observation(0.7500001)).status is Status.DEVIATION
    assert judge(_item(4.0, {"rel": 0.25}), Observation(5.0)).status is Status.PASS  # 25% of 4, exactly
    assert judge(_item(100.0, {"abs": 0.5}), Observation(150.0)).status is Status.DEVIATION  # no rel unless given


def test_without_a_tolerance_numbers_match_to_rounding_only() -> None:
    assert judge(_item(0.0), Observation(1e-13)).status is Status.PASS  # float noise around zero
    assert judge(_item(0.0), Observation(1e-11)).status is Status.DEVIATION
    assert judge(_item(1e6), Observation(1e6 + 1e-4)).status is Status.PASS
    assert judge(_item(1e6), Observation(1e6 + 1.0)).status is Status.DEVIATION


def test_the_tolerance_reaches_values_inside_mappings_and_sequences() -> None:
    assert differences({"a": 0.5, "b": [1.0, 2.0]}, {"a": 0.55, "b": [1.05, 2.0]}, {"abs": 0.1}) == []
    assert differences({"a": 0.5}, {"a": 0.7}, {"abs": 0.1}) == ["a: expected 0.5, got 0.7"]


# --------------------------------------------------------------------- where differences are ---

def test_differences_name_the_place_and_both_values() -> None:
    exp = {"a": {"b": 1, "c": 3}, "l": [1, 2]}
    obs = {"a": {"b": 2, "d": 4}, "l": [1, 3], "z": None}
    assert differences(exp, obs, {}) == ["a.b: expected 1, got 2", "a.c: missing (expected 3)",
                                         "a.d: unexpected (got 4)", "l[1]: expected 2, got 3",
                                         "z: unexpected (got none)"]
    assert differences({"a": 1}, [1, 2], {}) == ["value: expected a mapping, got [1, 2]"]
    assert differences([1], 3, {}) == ["value: expected a sequence, got 3"]
    assert differences({"k": {"m": 1}}, {"k": 5}, {}) == ["k: expected a mapping, got 5"]
    assert differences({"k": [1]}, {"k": 5}, {}) == ["k: expected a sequence, got 5"]
    assert differences([1, 2], [1, 2, 3], {}) == ["value: expected 2 entries, got 3"]
    assert differences(True, False, {}) == ["value: expected True, got False"]
    assert differences({"f": True}, {"f": 1}, {}) == ["f: expected True, got 1"]  # a bool is not a number
    assert differences("max", "avg", {}) == ["value: expected max, got avg"]


def test_sequence_edits_say_what_is_missing_extra_or_replaced_and_where() -> None:
    exp = ["conv1", "relu", "pool", "conv2"]
    assert differences(exp, ["conv1", "relu", "conv2"], {}) == ["value: missing pool after conv1 relu"]
    assert differences(exp, ["conv1", "conv2"], {}) == ["value: missing relu pool after conv1"]
    assert differences(exp, ["a", "b", "conv1", "relu", "pool", "conv2"], {}) == ["value: unexpected a b at the start"]
    assert differences(exp, ["conv1", "x", "y", "z", "conv2"], {}) == ["value: x y z instead of relu pool after conv1"]
    assert differences(exp, ["bn", "conv1", "relu", "pool", "conv2"], {}) == ["value: unexpected bn at the start"]
    assert differences(exp, ["conv1", "tanh", "pool", "conv2", "fc"], {}) == [
        "value: tanh instead of relu after conv1", "value: unexpected fc after pool conv2"]  # the paper's last two


def test_values_are_shown_as_the_report_rounds_them() -> None:
    assert show_value(1.23456789) == "1.23457"  # 6 significant digits, as in the JSON report
    assert show_value({"a": 0.1, "b": [1, None]}) == "{a: 0.1, b: [1, none]}"
    assert show_value(None) == "none" and show_value("max") == "max"


def test_long_difference_lists_are_cut_after_four() -> None:
    keys = "abcdef"
    for n, tail in ((4, ""), (5, "; and 1 more"), (6, "; and 2 more")):
        exp = {k: 1 for k in keys[:n]}
        f = judge(_item(exp), Observation({k: 2 for k in keys[:n]}))
        shown = "; ".join(f"{k}: expected 1, got 2" for k in keys[:4])
        assert f.message == f"x.y differs from the paper: {shown}{tail}."


# ------------------------------------------------------------------------ what a finding holds ---

def test_a_finding_carries_the_item_and_the_observation() -> None:
    item = _item({"k": 2.0}, {"rel": 0.02}, severity=Severity.MAJOR)
    for observed, status in (({"k": 2.0}, Status.PASS), ({"k": 1.0}, Status.DEVIATION)):
        f = judge(item, Observation(observed, "the evidence", "model.lrn1"))
        assert (f.id, f.status, f.severity, f.expected, f.observed, f.where, f.evidence) == (
            "x.y", status, Severity.MAJOR, {"k": 2.0}, observed, "model.lrn1", "the evidence")
    v = judge(_item(1.0, variants=[Variant("half", 0.5, "why")]), Observation(0.5, "ev", "w"))
    assert (v.status, v.variant, v.observed, v.where, v.evidence) == (Status.VARIANT, "half", 0.5, "w", "ev")
    assert v.message == "x.y is 0.5: accepted variant 'half' (why)"
    assert judge(_item(2.0), Observation(2.0)).message == "x.y is 2, as the paper says."


@pytest.mark.parametrize("make, status", [(skipped, Status.SKIP), (errored, Status.ERROR)])
def test_skipped_and_errored_findings(make, status) -> None:
    f = make(_item(3, severity=Severity.MAJOR), "the reason")
    assert (f.id, f.status, f.severity, f.expected, f.observed, f.message) == (
        "x.y", status, Severity.MAJOR, 3, None, "the reason")


# ------------------------------------------------------------------------- the layer sequence ---

@pytest.fixture(scope="module")
def sequence_item() -> Item:
    return load_spec().item("arch.layer_sequence")


def test_a_difference_another_item_reports_passes_the_sequence_and_names_that_item(sequence_item) -> None:
    paper = list(sequence_item.expected)
    f = judge(sequence_item, Observation([t for t in paper if t != "lrn"]))
    assert (f.status, f.covered_by) == (Status.PASS, ["lrn.placement"])
    assert f.message == ("arch.layer_sequence matches the paper apart from differences that other items report: "
                         "lrn.placement reports no response normalisation after conv1's ReLU, after conv2's ReLU.")
    same = judge(sequence_item, Observation(paper))
    assert same.status is Status.PASS and not same.covered_by
    assert same.message == f"arch.layer_sequence is [{', '.join(paper)}], as the paper says."
    # roles come from the spec (relu is an activation) and from the probe (gelu is one too)
    no_relu = judge(sequence_item, Observation(paper[:1] + paper[2:]))
    assert (no_relu.status, no_relu.covered_by) == (Status.PASS, ["arch.relu_placement"])
    gelu = judge(sequence_item, Observation(["conv1", "gelu", *paper[2:]], detail={"roles": {"gelu": "activation"}}))
    assert (gelu.status, gelu.covered_by) == (Status.PASS, ["arch.activation"])


def test_what_no_other_item_reports_is_the_sequence_deviation(sequence_item) -> None:
    paper = list(sequence_item.expected)
    bn = judge(sequence_item, Observation(paper[:2] + ["batchnorm"] + paper[2:]))
    assert (bn.status, bn.covered_by) == (Status.DEVIATION, None)
    assert bn.message == ("arch.layer_sequence differs from the paper where no other item reports it: extra batch "
                          "normalisation after conv1's ReLU.")
    both = judge(sequence_item, Observation([t for t in paper[:2] + ["batchnorm"] + paper[2:] if t != "lrn"]))
    assert both.status is Status.DEVIATION and both.message == (
        "arch.layer_sequence differs from the paper where no other item reports it: batch normalisation after "
        "conv1's ReLU, where the paper has response normalisation. Reported by other items: lrn.placement reports "
        "no response normalisation after conv1's ReLU, after conv2's ReLU.")
    two = judge(sequence_item, Observation(paper[:2] + ["batchnorm"] + paper[2:-1] + ["softmax", paper[-1]]))
    assert two.message.count("; ") == 1 and two.status is Status.DEVIATION


def test_only_a_list_against_a_list_is_read_as_edits(sequence_item) -> None:
    f = judge(sequence_item, Observation("conv1 relu"))  # not a sequence: an ordinary difference
    assert f.status is Status.DEVIATION
    assert f.message == "arch.layer_sequence differs from the paper: value: expected a sequence, got conv1 relu."
    plain = _item(["a", "b"])  # no covered_by: plain sequence differences
    assert judge(plain, Observation(["a"])).message == "x.y differs from the paper: value: missing b after a."
