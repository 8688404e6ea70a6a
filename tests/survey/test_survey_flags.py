"""--sandbox, --pass-env and --no-stub reach Dask workers that were started without them.

A `dask scheduler` and two `dask worker` processes run on 127.0.0.1; the workers' environment holds
SURVEY_FLAG_SECRET and none of the ALEXNET_AUDIT_* settings, and this process holds no secret, so
whatever the audits do differently can only come from the flags carried inside the tasks:

- `tb_logger` (a folder that imports tensorboardX, not installed) is audited with a stub, and with
  --no-stub it cannot be loaded ("stubbing is off");
- `secret.py:build` builds only when it sees SURVEY_FLAG_SECRET: the sandbox withholds it, --pass-env
  lets it through, --sandbox off withholds nothing and the report names the sandbox as turned off.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml

from alexnet_audit.cli.main import main
from alexnet_audit.isolate import jail
from alexnet_audit.spec.load import default_spec_path
from alexnet_audit.survey.warm import SETTINGS
from tests.survey.cluster import cluster

pytestmark = pytest.mark.slow
REPOS = Path(__file__).resolve().parents[1] / "target" / "repos"
SECRET = '''
import os

import torch.nn as nn


def build():
    if os.environ.get("SURVEY_FLAG_SECRET") != "seen":
        raise RuntimeError("SURVEY_FLAG_SECRET was withheld")
    return {"model": lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 10)),
            "input_size": (3, 8, 8), "num_classes": 10}
'''


def _survey(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with monkeypatch.context() as m:  # what the CLI writes into os.environ is undone after each run
        for name in SETTINGS:
            m.setenv(name, "")  # not set ("" counts as unset); the CLI's flags set them
        m.delenv("SURVEY_FLAG_SECRET", raising=False)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = main(["survey", *args])
    return rc, out.getvalue()


def _report(out: Path, stem: str) -> dict[str, object]:
    return dict(json.loads((out / "targets" / f"{stem}.json").read_text(encoding="utf-8")))


@pytest.mark.skipif(not jail.available(), reason="needs the OS sandbox (user namespaces) to withhold a variable")
def test_sandbox_pass_env_and_no_stub_reach_remote_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["items"] = [it for it in data["items"] if it["id"] in ("arch.conv1.out_channels", "dropout.p")]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (tmp_path / "secret.py").write_text(SECRET, encoding="utf-8")
    listing = tmp_path / "targets.txt"
    listing.write_text(f"{REPOS / 'tb_logger'}\nsecret.py:build\n", encoding="utf-8")
    worker_env = {"SURVEY_FLAG_SECRET": "seen", **dict.fromkeys(SETTINGS, "")}
    runs = {"plain": [], "flags": ["--no-stub", "--pass-env", "SURVEY_FLAG_SECRET"], "off": ["--sandbox", "off"]}
    with cluster(tmp_path, env=worker_env) as (address, _):
        done = {label: _survey(monkeypatch, str(listing), "--out", str(tmp_path / label), "--spec", str(spec),
                               "--scheduler", address, *flags) for label, flags in runs.items()}
    reports = {label: (_report(tmp_path / label, "tb_logger"), _report(tmp_path / label, "secret.build"))
               for label in runs}

    logger, secret = reports["plain"]
    assert done["plain"][0] == 1  # one target could not be audited: the secret
    assert "error" not in logger["target"]  # type: ignore[operator]
    assert "SURVEY_FLAG_SECRET was withheld" in secret["target"]["error"]  # type: ignore[index]
    assert logger["environment"]["sandbox"] == jail.UNSHARE  # type: ignore[index]

    logger, secret = reports["flags"]
    assert done["flags"][0] == 1  # now the logger folder is the one that cannot be loaded
    assert "it imports 'tensorboardX'" in logger["target"]["error"]  # type: ignore[index]
    assert "stubbing is off" in logger["target"]["error"]  # type: ignore[index]
    assert "error" not in secret["target"]  # type: ignore[operator]
    assert secret["environment"]["sandbox"] == jail.UNSHARE  # type: ignore[index]

    logger, secret = reports["off"]
    assert done["off"][0] == 0, done["off"][1]  # stubs again, and nothing withheld
    assert "error" not in logger["target"] and "error" not in secret["target"]  # type: ignore[operator]
    assert secret["environment"]["sandbox"] == "none: turned off (ALEXNET_AUDIT_SANDBOX=off)"  # type: ignore[index]
