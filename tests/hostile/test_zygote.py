"""The warm zygote that `compare` forks its workers from: losing it costs speed, never a result.

"compare imports torch once" holds only if workers really are forked from the zygote (which imported
torch before it forked them): the target here records, as the worker imports it, its own pid and its
parent's pid. Forked workers are children of the zygote; after the zygote died (or if `Zygote.start`
ever answered None) they are fresh interpreters started by this process, each importing torch anew.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from alexnet_audit.isolate import client
from alexnet_audit.isolate.zygote import Zygote
from alexnet_audit.spec.load import load_spec

RECORDER = '''
import os
from pathlib import Path

Path({record!r}).joinpath(f"{{os.getpid()}}.txt").write_text(str(os.getppid()))

import torch.nn as nn


def build():
    return {{"model": lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 10)),
            "input_size": (3, 8, 8), "num_classes": 10}}
'''


def _parents(directory: Path) -> dict[int, int]:
    """worker pid -> its parent's pid"""
    return {int(path.stem): int(path.read_text()) for path in directory.glob("*.txt")}


@pytest.mark.slow
@pytest.mark.parametrize("kill_zygote", [False, True])
def test_workers_forked_or_after_the_zygote_died_say_the_same(tmp_path: Path, kill_zygote: bool) -> None:
    record = tmp_path / "record"
    record.mkdir()
    (tmp_path / "recorder.py").write_text(RECORDER.format(record=str(record)), encoding="utf-8")
    env = client.worker_env(1)
    spec = load_spec(None)
    zygote = Zygote(env, tmp_path)
    try:
        assert zygote.ready.wait(120) and zygote.alive()
        zygote_pid = zygote.proc.pid
        if kill_zygote:  # a fresh interpreter per worker takes over
            zygote.proc.kill()
            zygote.proc.wait()
        audits = [client.run(client.Request(f"{tmp_path / 'recorder.py'}:build", f"recorder-{n}", spec=spec,
                                            fail_on="never", only=["arch.conv1.out_channels"], base=tmp_path),
                             env=env, limit=0, forker=zygote) for n in range(2)]
        missing = tmp_path / "missing.yaml"
        req = client.Request("reference", "reference", spec=spec, spec_path=missing, fail_on="never", base=tmp_path)
        outcome = client.run(req, env=env, limit=0, forker=zygote)
    finally:
        zygote.close()
    assert not outcome.ok and outcome.stage == "spec" and "missing.yaml" in outcome.cause
    assert zygote.proc.poll() is not None  # closed: no process left behind
    for done in audits:
        assert done.ok, done.cause
        assert {f["id"]: f["observed"] for f in done.data["findings"]} == {"arch.conv1.out_channels": 8}
    parents = _parents(record)
    assert len(parents) == 2  # two workers, two processes
    # forked from the zygote (torch imported there, once), or started here once it is gone
    assert set(parents.values()) == ({os.getpid()} if kill_zygote else {zygote_pid})
