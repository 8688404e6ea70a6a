"""`alexnet-audit audit <folder>` and nothing else: each fixture repository gets its verdict from
measurement, the folder audit equals the audit of the same model named directly, and the manifest
it inferred reproduces the report byte for byte.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from alexnet_audit.cli.main import EXIT_GATE, main
from alexnet_audit.isolate import client
from alexnet_audit.target.inferred import RESULT_KEY, manifest_text
from alexnet_audit.target.refs import default_name, report_stem

REPOS = Path(__file__).parent / "repos"

def _audit(tmp_path: Path, ref: str, out: str = "out") -> dict[str, Any]:
    code = main(["audit", ref, "--out", str(tmp_path / out)])
    assert code == EXIT_GATE  # none of them is the paper's AlexNet: the gate fails on what was measured
    return json.loads((tmp_path / out / f"{report_stem(default_name(ref))}.json").read_text(encoding="utf-8"))


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["status"] for f in report["findings"]}


def _deviating(report: dict[str, Any]) -> set[str]:
    return {i for i, s in _statuses(report).items() if s == "deviation"}


def _worker_result(tmp_path: Path, ref: str) -> dict[str, Any]:
    """What the worker returns to the client for `ref` (the client writes `inferred_manifest` beside the reports)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    result = scratch / "result.json"
    req = client.Request(ref=ref, name=default_name(ref), spec=client.load_checked_spec(None), base=Path.cwd())
    subprocess.run(client.worker_args(req, scratch, result, 0), cwd=scratch, env=client.worker_env(), check=True,
                   timeout=600, capture_output=True)
    return json.loads(result.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("repo, deviations", [
    ("tb_logger", {"dropout.placement", "init.weights", "init.biases"}),
    ("pkg_relative", {"dropout.placement", "init.weights", "init.biases"}),
    ("src_layout", {"arch.conv1.out_channels", "arch.conv2.out_channels", "arch.conv4.out_channels", "arch.neurons",
                    "arch.params_total", "arch.params_per_layer", "lrn.placement", "dropout.placement"}),  # paper init
    ("config_object", {"dropout.placement", "init.weights", "init.biases"}),  # fc8 (100 classes): declared, a variant
    ("init_script", {"dropout.placement", "init.biases"}),  # weights_init ran: N(0, 0.01) weights pass
    ("cifar32", {"arch.input_size", "arch.conv1.out_channels", "arch.conv1.kernel_size", "arch.conv1.stride",
                 "arch.conv2.out_channels", "arch.conv2.kernel_size", "arch.conv4.out_channels", "arch.feature_maps",
                 "arch.neurons", "arch.params_total", "arch.params_per_layer", "pool.kernel_size", "lrn.placement",
                 "dropout.placement", "init.weights", "init.biases"}),
])
def test_each_repository_audits_from_its_folder_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: str,
                                                      deviations: set[str]) -> None:
    monkeypatch.chdir(tmp_path)
    report = _audit(tmp_path, str(REPOS / repo))
    assert _deviating(report) == deviations
    assert report["target"]["notes"][0].startswith("Chose AlexNet (")
    assert not [f for f in report["findings"] if f["status"] == "error"]


@pytest.mark.slow
def test_the_folder_audit_equals_the_audit_of_the_file_it_chose(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = _audit(tmp_path, str(REPOS / "multi_net"), "a")
    direct = _audit(tmp_path, f"{REPOS / 'multi_net' / 'models' / 'alexnet.py'}:AlexNet", "b")
    def unlocated(findings: list) -> list:  # the folder names files from the repository's root, the file from its own
        return [{k: v for k, v in f.items() if k != "location"} for f in findings]

    assert unlocated(folder["findings"]) == unlocated(direct["findings"])
    assert {f["location"]["path"] for f in folder["findings"] if isinstance(f.get("location"), dict)} == \
        {"models/alexnet.py"}
    assert folder["target"]["input_size"] == direct["target"]["input_size"] == [3, 224, 224]
    assert _deviating(folder) == {"arch.conv1.out_channels", "arch.conv2.out_channels", "arch.conv4.out_channels",
                                  "arch.neurons", "arch.params_total", "arch.params_per_layer", "lrn.placement",
                                  "dropout.placement", "init.weights", "init.biases"}  # torchvision's AlexNet


@pytest.mark.slow
def test_the_seed_notebook_audits_as_the_bundled_seed_001(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """seed-001 is a single notebook: written here in that style, audited as a folder, it measures what the
    bundled rebuild measures. Only train.epochs differs: the bundled target reads 50 epochs from the
    document's caption, and a folder audit infers no training recipe."""
    monkeypatch.chdir(tmp_path)
    notebook = _statuses(_audit(tmp_path, str(REPOS / "seed_001"), "a"))
    bundled = _statuses(_audit(tmp_path, "seed-001", "b"))
    differ = {i for i in bundled if bundled[i] != notebook[i]}
    assert differ == {"train.epochs"} and notebook["train.epochs"] == "skip"


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["tb_logger", "init_script", "notebook/alexnet_imagenette.ipynb"])
def test_the_inferred_manifest_gives_the_same_report_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           ref: str) -> None:
    monkeypatch.chdir(tmp_path)
    target = str(REPOS / ref)
    payload = _worker_result(tmp_path, target)[RESULT_KEY]
    stem = report_stem(default_name(target))
    _audit(tmp_path, target, "folder")
    manifest = tmp_path / "folder" / f"{stem}.yaml"  # beside the reports, as the client writes it
    manifest.write_text(manifest_text(payload, manifest.parent), encoding="utf-8")
    assert "inferred_from: ../../" in manifest.read_text(encoding="utf-8")  # relative to where it is written
    _audit(tmp_path, str(manifest), "again")
    for suffix in (".json", ".md"):
        assert (tmp_path / "again" / f"{stem}{suffix}").read_bytes() == \
            (tmp_path / "folder" / f"{stem}{suffix}").read_bytes()
