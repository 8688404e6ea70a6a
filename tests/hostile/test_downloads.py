"""Nothing is downloaded while target code runs (`alexnet_audit.isolate.offline`).

A target built with pretrained weights used to start a download from the audit worker: on a machine
without network that was a long urllib traceback after a timeout, and with network the report would
depend on what the server held. Now every way to the network fails at once, naming what was asked.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alexnet_audit.cli.main import EXIT_USAGE, main

_PROBE = '''
import socket, urllib.request, torch.hub
from alexnet_audit.isolate import offline
offline.install()
import torchvision
for ask in (lambda: torchvision.models.alexnet(weights="DEFAULT"),
            lambda: torch.hub.load("pytorch/vision", "alexnet"),
            lambda: urllib.request.urlopen("http://example.com/data.tar"),
            lambda: socket.create_connection(("10.1.2.3", 80), timeout=30)):
    try:
        ask()
        print("NOT REFUSED")
    except offline.DownloadRefused as exc:
        print(exc)
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
client = socket.socket(); client.connect(server.getsockname())  # loopback (gloo, local ports) still works
print("loopback ok")
'''


def test_every_way_to_the_network_is_refused_at_once_and_loopback_still_works() -> None:
    # "At once": each refusal below is a DownloadRefused raised before any connection is tried (a real
    # attempt would print a URLError/timeout instead, or "NOT REFUSED"); no wall-clock bound needed.
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(lines) == 5, proc.stdout
    assert "NOT REFUSED" not in proc.stdout and lines[-1] == "loopback ok"
    assert "asked for https://download.pytorch.org/models/alexnet-owt-" in lines[0]
    assert "torch.hub.load('pytorch/vision', 'alexnet')" in lines[1]
    assert "asked for http://example.com/data.tar" in lines[2] and "10.1.2.3:80" in lines[3]
    assert all("build the model with weights=None" in line for line in lines[:2])  # weights: how to do without
    assert all("use no network" in line for line in lines[2:4])  # anything else: no weights advice


def test_a_target_with_pretrained_weights_is_one_error_line_not_a_download(tmp_path: Path, monkeypatch,
                                                                            capsys) -> None:
    (tmp_path / "pretrained_target.py").write_text(
        "import torchvision\n\ndef build():\n    return torchvision.models.alexnet(weights='DEFAULT')\n",
        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["audit", "pretrained_target:build", "--out", str(tmp_path / "out"), "--format", "json"])
    captured = capsys.readouterr()
    # The factory cannot build the model without the download: a target-load error the user must fix
    # (exit 2, one line, no report), the same as any factory that raises.
    assert code == EXIT_USAGE
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("alexnet-audit: error: pretrained_target:build: calling the target factory failed: "
                               "DownloadRefused: alexnet-audit downloads nothing: the code asked for "
                               "https://download.pytorch.org/models/alexnet-owt-"), lines[0]
    assert lines[0].endswith(".pth; build the model with weights=None / pretrained=False (the paper trains from "
                             "scratch, §5)"), lines[0]
    assert captured.out == ""  # no verdict, no "wrote ..."
    assert not (tmp_path / "out").exists()
