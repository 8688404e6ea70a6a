"""The warm zygote that `compare` forks its workers from: losing it costs speed, never a result."""
from __future__ import annotations

from pathlib import Path

import pytest

from alexnet_audit.compare import _audit_one, _env
from alexnet_audit.zygote import Zygote


@pytest.mark.slow
@pytest.mark.parametrize("kill_zygote", [False, True])
def test_workers_forked_or_after_the_zygote_died_say_the_same(tmp_path: Path, kill_zygote: bool) -> None:
    env = _env(1)
    zygote = Zygote(env, tmp_path)
    try:
        assert zygote.ready.wait(120) and zygote.alive()
        if kill_zygote:  # a fresh interpreter per worker takes over
            zygote.proc.kill()
            zygote.proc.wait()
        missing = tmp_path / "missing.yaml"
        outcome = _audit_one("reference", "reference", missing, 120, "never", env, tmp_path, 0, forker=zygote)
    finally:
        zygote.close()
    assert not outcome.ok and outcome.stage == "spec" and "missing.yaml" in outcome.cause
    assert zygote.proc.poll() is not None  # closed: no process left behind
