"""`compare` of the reference next to every kind of hostile target completes, writes the comparison,
and the reference's report is byte-identical to a lone `audit reference`: no target can disturb
another's measurement or lose the run's results."""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from alexnet_audit.cli.compare import compare
from alexnet_audit.cli.main import main

HOSTILE = '''\
import os
import sys
import threading
import time

import torch
import torch.nn as nn

import alexnet_ref


class Does(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.net = alexnet_ref.alexnet(10)
        self.act = act

    def forward(self, x):
        return self.act(self.net(x))


def _raise(exc):
    raise exc


def _spin():
    while True:
        time.sleep(0.01)


def threads():
    threading.Thread(target=_spin, daemon=False).start()
    print("a line of the target's own")
    return Does(lambda y: y)


sys_exit = lambda: Does(lambda y: sys.exit(0))
hard_exit = lambda: Does(lambda y: os._exit(0))
interrupt = lambda: Does(lambda y: _raise(KeyboardInterrupt()))
aborts = lambda: Does(lambda y: os.abort())
empty = lambda: Does(lambda y: y[:, :0])
extra_dims = lambda: Does(lambda y: y[:, :, None])
integers = lambda: Does(lambda y: y.long())
as_dict = lambda: Does(lambda y: {"a": y, "b": y})
nan = lambda: Does(lambda y: y * float("nan"))
hog = lambda: Does(lambda y: torch.ones(4 * 2**30, dtype=torch.uint8).sum() + y)
factory_raises = lambda: _raise(RuntimeError("no weights here"))
ten_way = {"model": lambda: Does(lambda y: y), "num_classes": 1000, "input_size": 224}
'''

ATTRS = ["threads", "sys_exit", "hard_exit", "interrupt", "aborts", "empty", "extra_dims", "integers", "as_dict",
         "nan", "hog", "factory_raises", "ten_way"]


@pytest.mark.slow
def test_reference_among_hostile_targets_is_unaffected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    (tmp_path / "comparison.yaml").write_text("name: comparison\nmodel: hostile.py:threads\ninput_size: 224\n",
                                              encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALEXNET_AUDIT_MEMORY_LIMIT", "3G")  # the hog's 4 GiB goes over; the reference needs ~1.2
    targets = ["reference", *[f"hostile.py:{a}" for a in ATTRS], "comparison.yaml"]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        rc = compare(targets, out=Path("all"), jobs=2, timeout=300)
    assert rc == 1, out.getvalue()  # errors fail the run; nothing passes silently
    written = sorted(os.listdir(tmp_path / "all"))
    for name in ("comparison.md", "comparison.json", "comparison.csv"):
        assert name in written
    stems = {f"hostile.{a}" for a in ATTRS} | {"reference", "comparison-target"}  # never the comparison's own name
    assert {f"{s}.json" for s in stems} <= set(written)
    rows = {r["name"]: r for r in json.loads((tmp_path / "all" / "comparison.json").read_text())["targets"]}
    assert len(rows) == len(targets)
    errors = {n for n, r in rows.items() if r.get("error")}
    assert errors == {f"hostile.{a}" for a in ATTRS if a != "threads"}

    assert main(["audit", "reference", "--out", "alone", "--fail-on", "never"]) == 0
    for ext in ("json", "md"):
        assert (tmp_path / "all" / f"reference.{ext}").read_bytes() == \
            (tmp_path / "alone" / f"reference.{ext}").read_bytes()
