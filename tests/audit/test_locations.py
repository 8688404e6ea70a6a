"""Every finding points at the code (issue 23): the exact file:line of each finding, on models written
in several styles and recipes declared in a manifest or captured from a training script.

The fixtures live in tests/audit/located/: `models.py` (nn.Sequential entries, named attributes, a
functional forward, a hand-written LRN layer and a hand-written fc8), `recipe.yaml` (a recipe
declared as literals) and `captured.yaml` with `train.py` (a captured manifest whose comments name
the script's lines). A line commented `loc: ID ...` is where the finding of each ID must point; the
test reads those markers (per class for models.py), so the fixtures can be edited freely.
"""
from __future__ import annotations

import ast
import functools
import json
import re
import shutil
from pathlib import Path

import pytest

from alexnet_audit.audit.pipeline import run_audit
from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Report, Status
from alexnet_audit.report import report_to_dict, to_json
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.resolve import load_target

HERE = Path(__file__).parent / "located"
MARK = re.compile(r"#\s*loc:\s*([\w. ]+)$")

# target -> (where its markers are: classes of models.py and whole files, the ids that deviate)
CASES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "models.py:SequentialNet": (("SequentialNet",), frozenset({"lrn.k", "dropout.placement", "init.weights",
                                                               "init.biases"})),
    "models.py:NamedNet": (("NamedNet",), frozenset({"pool.type", "init.biases"})),
    "models.py:FunctionalNet": (("FunctionalNet",), frozenset({"lrn.k", "dropout.p"})),
    "models.py:HandNet": (("HandNet",), frozenset({"lrn.beta"})),
    "recipe.yaml": (("NamedNet", "recipe.yaml"), frozenset({"pool.type", "init.biases", "train.weight_decay",
                                                              "train.lr_schedule", "train.batch_size"})),
    "captured.yaml": (("SequentialNet", "train.py"), frozenset({"lrn.k", "dropout.placement", "init.weights",
                                                                 "init.biases", "train.lr_schedule",
                                                                 "train.batch_size"})),
}


def _marks(path: Path, lines: range | None = None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = MARK.search(text)
        if m and (lines is None or n in lines):
            for fid in m.group(1).split():
                out.setdefault(fid, set()).add(f"{path.name}:{n}")
    return out


def _class_lines(name: str) -> range:
    tree = ast.parse((HERE / "models.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    return range(node.lineno, (node.end_lineno or node.lineno) + 1)


def expected(scopes: tuple[str, ...]) -> dict[str, set[str]]:
    """id -> the `models.py:N` / `train.py:N` / `recipe.yaml:N` its finding must point at."""
    out: dict[str, set[str]] = {}
    for scope in scopes:
        found = _marks(HERE / scope) if "." in scope else _marks(HERE / "models.py", _class_lines(scope))
        for fid, locs in found.items():
            out.setdefault(fid, set()).update(locs)
    return out


@functools.cache
def audited(ref: str) -> Report:
    scopes, _ = CASES[ref]
    return verify(load_spec(), load_target(str(HERE / ref)), only=sorted(expected(scopes)), base=HERE)


@pytest.mark.parametrize("ref", list(CASES))
def test_each_finding_points_at_the_exact_line(ref: str) -> None:
    scopes, deviates = CASES[ref]
    want = expected(scopes)
    found = audited(ref).by_id()
    assert {i for i, f in found.items() if f.status is Status.DEVIATION} == deviates
    got = {fid: {str(loc) for loc in found[fid].location} for fid in want}
    assert got == want


def test_the_functional_lrn_that_deviates_is_the_one_located() -> None:
    """lrn.k is {lrn1: 1, lrn2: 2}: only the first F.local_response_norm line is the deviation's."""
    lrn = audited("models.py:FunctionalNet").by_id()["lrn.k"]
    assert lrn.observed == {"lrn1": 1.0, "lrn2": 2.0}
    assert [str(loc) for loc in lrn.location] == sorted(expected(("FunctionalNet",))["lrn.k"])


def test_the_target_points_at_its_model_and_json_writes_one_location_or_a_list() -> None:
    report = audited("models.py:NamedNet")
    spec = load_spec()
    data = report_to_dict(report, spec)
    line = _class_lines("NamedNet").start
    assert data["target"]["location"] == {"path": "models.py", "line": line}
    by_id = {f["id"]: f for f in data["findings"]}
    one = sorted(expected(("NamedNet",))["init.biases"])[0]
    assert by_id["init.biases"]["location"] == {"path": "models.py", "line": int(one.split(":")[1])}
    pools = sorted(expected(("NamedNet",))["pool.type"], key=lambda s: int(s.split(":")[1]))
    assert by_id["pool.type"]["location"] == [{"path": "models.py", "line": int(p.split(":")[1])} for p in pools]
    skipped = [f for f in data["findings"] if f["status"] == "skip"]
    assert all("location" not in f for f in skipped)


@pytest.mark.slow
def test_locations_are_the_same_bytes_wherever_the_checkout_is(tmp_path: Path) -> None:
    """Relative to the directory the audit ran from: two checkouts give the same report."""
    from alexnet_audit.target.record import from_mapping

    spec = load_spec()
    texts = []
    for where in ("one", "deeper/two"):
        root = tmp_path / where
        shutil.copytree(HERE, root)
        ref = str(root / "models.py:FunctionalNet")
        # a factory that builds each model under the audit's seed (a `file.py:Class` target in this
        # process would hand out the model it made, unseeded, while loading)
        target = from_mapping("models.FunctionalNet", {"model": type(load_target(ref).model())}, ref)
        result = run_audit(spec, target, only=["lrn.k", "dropout.p"], base=root)
        texts.append(to_json(result.report, spec, result.gate))
    assert texts[0] == texts[1]
    assert str(tmp_path) not in texts[0] and '"path": "models.py"' in texts[0]


@pytest.mark.slow
def test_the_markdown_links_locations_only_inside_the_tree(tmp_path: Path) -> None:
    spec = load_spec()
    root = tmp_path / "repo"
    shutil.copytree(HERE, root)
    result = run_audit(spec, load_target(str(root / "models.py:FunctionalNet")), only=["lrn.k", "dropout.p"],
                       base=root, out=root / "reports", formats=("md",))
    md = result.paths[0].read_text(encoding="utf-8")
    line = sorted(expected(("FunctionalNet",))["lrn.k"])[0].split(":")[1]
    assert f"- **Location**: [`models.py:{line}`](../models.py#L{line})" in md
    outside = run_audit(spec, load_target(str(root / "models.py:FunctionalNet")), only=["lrn.k"], base=root,
                        out=tmp_path / "elsewhere", formats=("md",))
    text = outside.paths[0].read_text(encoding="utf-8")
    assert f"- **Location**: `models.py:{line}`" in text and "](../" not in text


def test_a_factory_that_builds_each_call_is_located_from_the_audited_build() -> None:
    """A plain-dict target's factory builds the audited model under the recorder (no second build);
    `file.py:Class` targets, which hand out the model made while loading, are the cases above."""
    from alexnet_audit.target.record import from_mapping

    cls = type(load_target(str(HERE / "models.py:NamedNet")).model())
    report = verify(load_spec(), from_mapping("f", {"model": cls}, "models.py:NamedNet"),
                    only=["pool.type", "init.biases"], base=HERE)
    want = expected(("NamedNet",))
    assert {fid: {str(loc) for loc in f.location} for fid, f in report.by_id().items()} == \
        {fid: want[fid] for fid in ("pool.type", "init.biases")}


def test_captured_comments_name_the_lines_the_script_has() -> None:
    """The fixture's captured manifest names train.py's lines; keep the two in step."""
    marks = _marks(HERE / "train.py")
    text = (HERE / "captured.yaml").read_text(encoding="utf-8")
    named = {f"train.py:{n}" for n in re.findall(r"train\.py:(\d+)", text)}
    assert set().union(*marks.values()) <= named


@pytest.mark.slow
def test_a_captured_run_points_at_the_script_and_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`alexnet-audit capture -- python train.py` on tests/capture/plain_loop: the recipe's findings name
    the script's lines (from the manifest's comments), the model's the lines of model.py."""
    from alexnet_audit.cli.main import main

    work = tmp_path / "plain_loop"
    shutil.copytree(Path(__file__).parents[1] / "capture" / "plain_loop", work)
    monkeypatch.chdir(work)
    main(["capture", "--out", str(tmp_path / "out"), "--", "python", "train.py"])
    data = json.loads((tmp_path / "out" / "plain_loop.json").read_text(encoding="utf-8"))
    by_id = {f["id"]: f for f in data["findings"]}

    def at(name: str, text: str) -> list[int]:
        lines = (work / name).read_text(encoding="utf-8").splitlines()
        return [n for n, t in enumerate(lines, 1) if text in t]

    (sgd,) = at("train.py", "optim.SGD(")
    (step,) = at("train.py", "StepLR(")
    assert by_id["train.weight_decay"]["location"] == {"path": "train.py", "line": sgd}
    assert by_id["train.lr_schedule"]["location"] == {"path": "train.py", "line": step}
    drops = at("model.py", "nn.Dropout(dropout)")
    assert by_id["dropout.placement"]["location"] == [{"path": "model.py", "line": n} for n in drops]
    assert data["target"]["location"] == {"path": "model.py", "line": at("model.py", "class AlexNet")[0]}
