"""Capture of a fine-tuning script: pretrained weights are not downloaded, and files it writes (next to
the script from `__file__`, at an absolute path outside the working directory) never reach the tree."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.test_capture import HERE, capture


@pytest.mark.slow
def test_pretrained_weights_are_not_downloaded_and_writes_outside_the_scratch_directory_are_redirected(
        tmp_path: Path) -> None:
    metrics = tmp_path / "elsewhere" / "metrics.jsonl"
    got = capture(tmp_path, "finetune_pretrained", "--metrics", str(metrics))
    s, notes = got["status"], got["data"]["notes"]
    assert s["train.optimizer"] == s["train.loss"] == "pass" and got["data"]["batch_size"] == 32
    assert any("asked for pretrained weights (https://download.pytorch.org/" in n for n in notes), notes
    # runs/ next to the script (from __file__) and an absolute metrics path: neither is written
    assert sorted(p.name for p in (HERE / "finetune_pretrained").iterdir()) == ["train.py"]
    assert not metrics.parent.exists()
    assert any(f"wrote to {metrics.parent}, outside its scratch directory" in n for n in notes), notes
    # runs/ beside the script is in the working directory: the overlay (or, without the OS sandbox, the
    # Python-level redirection) keeps it out of the tree, as the listing above shows
    assert "2 lines of metrics" in got["log"]  # the redirected file reads back: the script ran on
