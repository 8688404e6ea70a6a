"""The judge: one pure comparison of observed with expected, tolerance and accepted variants."""
from __future__ import annotations

from alexnet_audit.core.findings import Observation, Severity, Status
from alexnet_audit.judge.verdict import differences, judge
from alexnet_audit.spec.load import Item, Variant


def _item(expected, tolerance=None, variants=()) -> Item:
    return Item(id="x.y", group="architecture", claim="c", section="§0", severity=Severity.MINOR, probe="p",
                expected=expected, tolerance=tolerance or {}, variants=tuple(variants), fix="f")


def test_exact_pass_and_attrs_style_message() -> None:
    assert judge(_item(2.0), Observation(2.0)).status is Status.PASS
    f = judge(_item(2.0), Observation(1.0))
    assert f.status is Status.DEVIATION and f.message == "x.y must be 2 (got 1)."


def test_tolerances() -> None:
    assert judge(_item(1e-4, {"rel": 0.02}), Observation(1.019e-4)).status is Status.PASS
    assert judge(_item(1e-4, {"rel": 0.02}), Observation(1.03e-4)).status is Status.DEVIATION
    assert judge(_item(0.5, {"abs": 0.02}), Observation(0.515)).status is Status.PASS
    assert judge(_item(0.5, {"abs": 0.02}), Observation(float("nan"))).status is Status.DEVIATION


def test_variant_named_with_reason() -> None:
    item = _item(1e-4, {"rel": 0.02}, [Variant("alpha/n", 2e-5, "authors' code divides by n")])
    f = judge(item, Observation(2.01e-5))
    assert f.status is Status.VARIANT and f.variant == "alpha/n" and "authors' code" in f.message


def test_mappings_need_equal_keys() -> None:
    item = _item({"a": 1, "b": True})
    assert judge(item, Observation({"a": 1, "b": True})).status is Status.PASS
    f = judge(item, Observation({"a": 1, "b": True, "c": 3}))
    assert f.status is Status.DEVIATION and "c: unexpected" in f.message
    assert "b: missing" in judge(item, Observation({"a": 1})).message


def test_bools_are_not_numbers_and_lists_need_equal_length() -> None:
    assert differences(True, 1, {}) and differences(1, True, {})
    assert differences([1, 2], [1, 2, 3], {}) == ["value: expected 2 entries, got 3"]
    assert differences(["conv1", "relu"], ["conv1", "tanh"], {}) == ["[1]: expected relu, got tanh"]


def test_num_classes_placeholder() -> None:
    item = _item(1000, variants=[Variant("declared", "$num_classes", "other data set")])
    assert judge(item, Observation(10), {"num_classes": 10}).status is Status.VARIANT
    assert judge(item, Observation(10), {"num_classes": None}).status is Status.DEVIATION
    assert judge(item, Observation(10), {}).status is Status.DEVIATION



def test_sequences_of_names_are_described_as_edits() -> None:
    """torchvision's order (no LRN, dropout moved to pool5) reads as four concrete edits."""
    paper = "conv1 relu lrn maxpool conv2 relu lrn maxpool conv3 relu conv4 relu conv5 relu maxpool " \
        "fc6 relu dropout fc7 relu dropout fc8"
    tv = "conv1 relu maxpool conv2 relu maxpool conv3 relu conv4 relu conv5 relu maxpool dropout " \
        "fc6 relu dropout fc7 relu fc8"
    assert differences(paper.split(), tv.split(), {}) == [
        "value: missing lrn after conv1 relu",
        "value: missing lrn after conv2 relu",
        "value: unexpected dropout after relu maxpool",
        "value: missing dropout after fc7 relu",
    ]
