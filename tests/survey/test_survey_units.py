"""`survey` without real audits: reading TARGETS, names, content keys and resume markers, the corpus
table and report, the engine's retry rule, and a whole survey with the client's worker faked.

The real audits (LocalCluster, a scheduler and two workers, Ctrl-C, a killed worker) are in
test_survey_corpus.py, marked slow.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alexnet_audit.isolate import client
from alexnet_audit.isolate.client import Outcome
from alexnet_audit.report import load_reports
from alexnet_audit.survey import corpus, document, engine, table
from alexnet_audit.survey.run import survey


def _report(name: str, statuses: dict[str, str], score: float | None = 50.0, error: str = "",
            caused: dict[str, list[str]] | None = None) -> dict[str, Any]:
    caused = caused or {}
    target: dict[str, Any] = {"name": name, "source": f"{name}.py:build", **({"error": error} if error else {})}
    findings = [{"id": i, "status": s, "severity": "major", "group": i.split(".")[0], "section": "§3",
                 "observed": {"k": 1.0}, "message": f"{i} {s}", **({"caused_by": caused[i]} if i in caused else {}),
                 **({"variant": "alpha_over_n"} if s == "variant" else {})}
                for i, s in statuses.items()]
    return {"format": 1, "target": target, "spec": {"version": "1.0.0", "sha256": "ab" * 32},
            "summary": {"fidelity_score": score, "gate": {"passed": True, "waived": {}}}, "findings": findings}


# ------------------------------------------------------------------------------ TARGETS ---

def test_list_files_globs_and_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for repo in ("a", "b", "c"):
        (tmp_path / "corpus" / repo).mkdir(parents=True)
        (tmp_path / "corpus" / repo / "model.py").write_text("x = 1\n")
    listing = tmp_path / "corpus" / "targets.txt"
    listing.write_text("# the corpus\n\na/model.py:build   # first\n  b/model.py:build\na/model.py:build\n")
    monkeypatch.chdir(tmp_path)
    found = corpus.entries([str(listing), "corpus/*/", "reference"])
    assert [(e.ref, e.base) for e in found] == [
        ("a/model.py:build", listing.parent.resolve()), ("b/model.py:build", listing.parent.resolve()),
        ("corpus/a", tmp_path), ("corpus/b", tmp_path), ("corpus/c", tmp_path), ("reference", tmp_path)]
    assert corpus.names(found) == ["a-model.build", "b-model.build", "a", "b", "c", "reference"]


def test_clashing_names_take_their_folders_and_stay_unique() -> None:
    base = Path("/nowhere")
    found = [corpus.Entry("x/m.py:Net", base), corpus.Entry("y/m.py:Net", base), corpus.Entry("z.py:Net", base)]
    names = corpus.names(found)  # the files do not exist: clashes fall back to -2
    assert names == ["m.Net", "m.Net-2", "z.Net"]


def test_collapse_keeps_few_outermost_folders() -> None:
    assert corpus.collapse(["/a", "/a b", "/a/c", "/x/y/z1", "/x/y/z2", "/x/q"], most=3) == ("/a", "/a b", "/x")
    many = [f"/h/c/r{i}/m.py" for i in range(500)] + ["/h/base"]
    assert corpus.collapse(many) == ("/h/base", "/h/c")


def test_content_key_follows_the_sources_and_options(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "model.py").write_text("a = 1\n")
    spec = client.load_checked_spec(None)
    entry = corpus.Entry("r/model.py:build", tmp_path)
    req = client.Request(ref=entry.ref, name="n", spec=spec, base=tmp_path)
    first = corpus.key(req, entry)
    assert corpus.key(req, entry) == first
    (tmp_path / "r" / "weights.bin").write_bytes(b"\0" * 10)  # not a source file
    assert corpus.key(req, entry) == first
    (tmp_path / "r" / "layers.py").write_text("b = 2\n")  # a module beside it is
    second = corpus.key(req, entry)
    assert second != first
    assert corpus.key(client.Request(ref=entry.ref, name="n", spec=spec, base=tmp_path, fail_on="major"),
                      entry) != second


# ------------------------------------------------------------------------ the corpus report ---

REPORTS = [
    _report("good", {"lrn.k": "pass", "pool.type": "pass", "train.lr": "skip"}, 100.0),
    _report("k1", {"lrn.k": "deviation", "pool.type": "pass", "train.lr": "skip"}, 80.0),
    _report("both", {"lrn.k": "deviation", "pool.type": "deviation", "train.lr": "skip"}, 40.0),
    _report("alpha", {"lrn.k": "variant", "pool.type": "deviation", "train.lr": "skip"}, 70.0,
            caused={"pool.type": ["lrn.k"]}),
    _report("broken", {"lrn.k": "error", "pool.type": "error", "train.lr": "error"}, None, error="boom"),
]


def test_table_totals_and_files(tmp_path: Path) -> None:
    totals = table.write(iter(REPORTS), tmp_path)
    assert totals.targets == 5
    assert dict(totals.items["lrn.k"]) == {"pass": 1, "deviation": 2, "variant": 1, "error": 1}
    assert totals.deviations == {"lrn.k": 2, "pool.type": 1}  # alpha's pool.type is derived: not counted
    assert totals.pairs == {("lrn.k", "pool.type"): 1}
    assert dict(totals.errors) == {"boom": 1}
    frame = pd.read_parquet(tmp_path / "survey.parquet")
    assert list(frame.columns) == list(table.COLUMNS)
    assert len(frame) == 15 and frame["target"].tolist()[:3] == ["good"] * 3
    assert json.loads(frame.loc[0, "observed"]) == {"k": 1.0}
    csv = pd.read_csv(tmp_path / "survey.csv")
    assert csv["status"].tolist() == frame["status"].tolist()
    # load_reports reads the same rows from the per-target JSON reports
    (tmp_path / "targets").mkdir()
    for r in REPORTS:
        (tmp_path / "targets" / f"{r['target']['name']}.json").write_text(json.dumps(r))
    loaded = load_reports(tmp_path / "targets").sort_values(["target", "id"]).reset_index(drop=True)
    ours = frame[list(loaded.columns)].sort_values(["target", "id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, ours, check_dtype=False)


def test_survey_md_and_figures_are_deterministic(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in document.write(table.write(iter(REPORTS), tmp_path), tmp_path)]
    again = [p.read_bytes() for p in document.write(table.write(iter(REPORTS), tmp_path), tmp_path)]
    assert first == again
    md = (tmp_path / "survey.md").read_text()
    for heading in ("## Per item", "## Fidelity scores", "## Most common deviations", "## Targets ranked",
                    "## Targets that could not be audited"):
        assert heading in md
    assert "| `lrn.k` | major | 20.0% | 20.0% | 40.0% | 20.0% |" in md
    assert "| 1 | good | 100.0 |" in md and "| 5 | broken | - |" in md
    assert all((tmp_path / f).read_bytes().startswith(b"\x89PNG") for f in document.FIGURES)


# ------------------------------------------------------------------------------ the engine ---

class _Lost:
    key = "k"

    def result(self) -> Any:
        from types import SimpleNamespace

        from distributed import KilledWorker

        raise KilledWorker("k", SimpleNamespace(address="tcp://127.0.0.1:1"), 0)  # type: ignore[arg-type]


def test_a_lost_worker_is_retried_once_then_an_error_row() -> None:
    spec = client.load_checked_spec(None)
    req = client.Request(ref="a.py:build", name="a", spec=spec)
    e = engine.Engine()
    assert e._finished(_Lost(), 0, req, 1) is None  # the first loss: submitted again
    done = e._finished(_Lost(), 0, req, 2)
    assert done is not None and done.lost and done.attempts == 2
    assert not done.outcome.ok and "lost 2 times" in done.outcome.cause
    assert {f["status"] for f in done.outcome.data["findings"]} == {"error"}


# ---------------------------------------------------- a whole survey, the worker faked ---

def _fake(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    def run(req: client.Request, **kw: Any) -> Outcome:
        from alexnet_audit.core.findings import Report
        from alexnet_audit.report import report_to_dict

        calls.append(req.name)
        data = report_to_dict(Report(target={"name": req.name, "source": req.ref},
                                     spec={"version": req.spec.version, "sha256": req.spec.sha256}), req.spec)
        return client.finish(Outcome(req.ref, req.name), {"ok": True, "summary": f"{req.name}: ok", "report": data},
                             req)

    monkeypatch.setattr(client, "run", run)


def _survey(*args: Any, **kw: Any) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = survey(*args, processes=False, warm=False, **kw)
    return rc, buf.getvalue()


def test_a_rerun_skips_what_is_done_and_force_redoes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for repo in ("r1", "r2", "r3"):
        (tmp_path / repo).mkdir()
        (tmp_path / repo / "model.py").write_text(f"# {repo}\n")
    listing = tmp_path / "targets.txt"
    listing.write_text("r1/model.py:build\nr2/model.py:build\nr3/model.py:build\n")
    calls: list[str] = []
    _fake(monkeypatch, calls)
    out = tmp_path / "out"
    rc, text = _survey([str(listing)], out, jobs=2)
    assert rc == 0 and sorted(calls) == ["r1-model.build", "r2-model.build", "r3-model.build"]
    assert "3 audited now" in text
    parquet = (out / "survey.parquet").read_bytes()
    assert sorted(p.name for p in (out / "targets").iterdir()) == sorted(
        f"r{i}-model.build.{ext}" for i in (1, 2, 3) for ext in ("json", "md"))
    calls.clear()
    rc, text = _survey([str(listing)], out, jobs=2)
    assert calls == [] and "3 already done" in text
    assert (out / "survey.parquet").read_bytes() == parquet
    (tmp_path / "r2" / "model.py").write_text("# changed\n")
    _survey([str(listing)], out)
    assert calls == ["r2-model.build"]
    calls.clear()
    _survey([str(listing)], out, force=True)
    assert sorted(calls) == ["r1-model.build", "r2-model.build", "r3-model.build"]


def test_no_target_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alexnet_audit.cli.main import EXIT_USAGE, main

    (tmp_path / "empty.txt").write_text("# nothing here\n")
    assert main(["survey", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "at least one target" in capsys.readouterr().err
