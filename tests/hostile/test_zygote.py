"""The warm zygote that `compare` forks its workers from: losing it costs speed, never a result."""
from __future__ import annotations

from pathlib import Path

import pytest

from alexnet_audit.isolate import client
from alexnet_audit.isolate.zygote import Zygote
from alexnet_audit.spec.load import load_spec


@pytest.mark.slow
@pytest.mark.parametrize("kill_zygote", [False, True])
def test_workers_forked_or_after_the_zygote_died_say_the_same(tmp_path: Path, kill_zygote: bool) -> None:
    env = client.worker_env(1)
    zygote = Zygote(env, tmp_path)
    try:
        assert zygote.ready.wait(120) and zygote.alive()
        if kill_zygote:  # a fresh interpreter per worker takes over
            zygote.proc.kill()
            zygote.proc.wait()
        missing = tmp_path / "missing.yaml"
        req = client.Request("reference", "reference", spec=load_spec(None), spec_path=missing, fail_on="never",
                             base=tmp_path)
        outcome = client.run(req, env=env, limit=0, forker=zygote)
    finally:
        zygote.close()
    assert not outcome.ok and outcome.stage == "spec" and "missing.yaml" in outcome.cause
    assert zygote.proc.poll() is not None  # closed: no process left behind
