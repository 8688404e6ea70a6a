"""`survey` for real, on a generated corpus (benchmarks/corpus.py) and a cut-down spec.

- 40 targets on a LocalCluster (-j 2): the per-item totals are the generator's, exactly;
- the same 40 against a `dask scheduler` and two `dask worker` processes started here on 127.0.0.1:
  the same survey.parquet, byte for byte;
- a survey interrupted by SIGINT, then rerun: nothing that finished is audited again;
- a worker killed mid-survey: no finished report lost, at most one retry, every target reported;
- a target's report is the same bytes from `survey`, `audit` and `compare`.

Each target audits the full-size net (model build, trace) on the spec's normalisation, pooling,
dropout and init items and a few architecture and recipe ones: about a second after imports.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from alexnet_audit.cli.main import main
from alexnet_audit.spec.load import default_spec_path, load_spec
from benchmarks.corpus import Generated, expected_totals, write_corpus
from tests.survey.cluster import cluster as _cluster

ITEMS = ("lrn.", "pool.", "dropout.", "init.", "arch.activation", "arch.conv1.out_channels", "arch.conv2.groups",
         "arch.conv4.groups", "arch.conv5.groups", "arch.fc7.out_features", "arch.params_total",
         "arch.params_per_layer", "train.loss", "data.hflip")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("survey")
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"].startswith(ITEMS)]
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    targets = write_corpus(root / "corpus", 40)
    return {"root": root, "spec": spec, "targets": targets, "list": root / "corpus" / "targets.txt"}


def _survey(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["survey", *args])
    return rc, out.getvalue()


def _totals(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts = frame.groupby(["id", "status"]).size()
    out: dict[str, dict[str, int]] = {}
    for (item, status), n in counts.items():
        out.setdefault(str(item), {})[str(status)] = int(n)
    return out


@pytest.fixture(scope="module")
def local(corpus: dict[str, object]) -> Path:
    out = Path(str(corpus["root"])) / "local"
    rc, text = _survey(str(corpus["list"]), "--out", str(out), "--spec", str(corpus["spec"]), "-j", "2")
    assert rc == 0, text
    assert "40 audited now (0 could not be, 0 lost to the cluster), 0 already done" in text
    return out


def test_local_cluster_totals_are_the_generators(corpus: dict[str, object], local: Path) -> None:
    spec = load_spec(Path(str(corpus["spec"])))
    targets: list[Generated] = corpus["targets"]  # type: ignore[assignment]
    frame = pd.read_parquet(local / "survey.parquet")
    assert len(frame) == 40 * len(spec.items)
    assert _totals(frame) == expected_totals(targets, [(it.id, it.group) for it in spec.items])
    md = (local / "survey.md").read_text(encoding="utf-8")
    assert "40 target(s) audited against spec" in md and "; 0 could not be audited." in md
    for name in ("survey-items.png", "survey-scores.png", "survey-cooccurrence.png", "survey.csv"):
        assert (local / name).is_file()


def test_a_scheduler_and_two_workers_give_the_same_parquet(corpus: dict[str, object], local: Path) -> None:
    root = Path(str(corpus["root"]))
    out = root / "cluster"
    with _cluster(root) as (address, _):
        rc, text = _survey(str(corpus["list"]), "--out", str(out), "--spec", str(corpus["spec"]),
                           "--scheduler", address)
    assert rc == 0, text
    assert (out / "survey.parquet").read_bytes() == (local / "survey.parquet").read_bytes()
    assert (out / "survey.md").read_bytes() == (local / "survey.md").read_bytes()
    for report in (local / "targets").glob("*.json"):
        assert (out / "targets" / report.name).read_bytes() == report.read_bytes()


def _done(out: Path) -> dict[str, tuple[int, int]]:
    """stem -> (marker mtime, json report mtime) of every finished target."""
    return {m.stem: (m.stat().st_mtime_ns, (out / "targets" / f"{m.stem}.json").stat().st_mtime_ns)
            for m in (out / "state").glob("*.done")}


def test_an_interrupted_survey_resumes_without_redoing_anything(corpus: dict[str, object], tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("\n".join(f"{Path(str(corpus['root'])) / 'corpus' / t.ref}"
                                 for t in corpus["targets"][:12]) + "\n")  # type: ignore[index]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "alexnet_audit.cli.main", "survey", str(listing), "--out", str(out), "--spec",
           str(corpus["spec"]), "-j", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(_done(out)) < 4:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    before = _done(out)
    assert 4 <= len(before) < 12
    for stem in before:
        json.loads((out / "targets" / f"{stem}.json").read_text())  # whole, not truncated
    rc, text = _survey(str(listing), "--out", str(out), "--spec", str(corpus["spec"]), "-j", "2")
    assert rc == 0, text
    assert f"{12 - len(before)} audited now" in text and f"{len(before)} already done" in text
    after = _done(out)
    assert len(after) == 12
    assert {stem: after[stem] for stem in before} == before  # nothing finished was written again


def test_a_killed_worker_loses_nothing_and_retries_at_most_once(corpus: dict[str, object], tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("\n".join(f"{Path(str(corpus['root'])) / 'corpus' / t.ref}"
                                 for t in corpus["targets"][:10]) + "\n")  # type: ignore[index]
    out = tmp_path / "out"
    with _cluster(tmp_path) as (address, procs):
        cmd = [sys.executable, "-m", "alexnet_audit.cli.main", "survey", str(listing), "--out", str(out), "--spec",
               str(corpus["spec"]), "--scheduler", address]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while len(_done(out)) < 3:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        before = _done(out)
        procs[1].kill()  # one `dask worker`, mid-task
        stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, (stdout, stderr)
    after = _done(out)
    assert len(after) == 10  # every target finished, on the worker that is left
    assert {stem: after[stem] for stem in before} == before  # no finished report lost or rewritten
    attempts = [json.loads((out / "state" / f"{stem}.done").read_text())["attempts"] for stem in after]
    assert sum(a - 1 for a in attempts) <= 1 and max(attempts) <= 2


def test_survey_audit_and_compare_write_the_same_bytes(corpus: dict[str, object], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src = Path(str(corpus["root"])) / "corpus"
    monkeypatch.chdir(src)
    refs = ["repo-0001/model.py:build", "repo-0002/model.py:build"]
    spec = str(corpus["spec"])
    rc, text = _survey(refs[0], "--out", str(tmp_path / "s"), "--spec", spec, "-j", "1")
    assert rc == 0, text
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["audit", refs[0], "--out", str(tmp_path / "a"), "--spec", spec, "--fail-on", "never"]) == 0
        assert main(["compare", *refs, "--out", str(tmp_path / "c"), "--spec", spec, "-j", "2"]) == 0
    for ext in ("json", "md"):
        ours = (tmp_path / "s" / "targets" / f"model.build.{ext}").read_bytes()
        assert ours == (tmp_path / "a" / f"model.build.{ext}").read_bytes()
        assert ours == (tmp_path / "c" / f"model.build.{ext}").read_bytes()
