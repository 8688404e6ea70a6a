"""Capture of scripts built on third-party libraries the real repositories use (albumentations itself,
with OpenCV reading the files), beside the look-alike fixtures in test_capture.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.test_capture import _audits_the_same, capture


@pytest.mark.slow
def test_the_albumentations_library_with_opencv_reads_from_a_fake_data_folder(tmp_path: Path) -> None:
    pytest.importorskip("albumentations")  # a test dependency (pyproject's test extra)
    data = tmp_path / "fake"
    got = capture(tmp_path, "albumentations_real", "--data", str(data / "imagenet"), options=("--data", str(data)))
    s, found, manifest = got["status"], got["found"], got["manifest"]
    steps = [step["type"].rsplit(":", 1)[1] for step in got["data"]["train_transform"]]
    assert steps == ["SmallestMaxSize", "RandomCrop", "HorizontalFlip", "ColorJitter", "Normalize", "ToTensorV2"]
    assert all(step["style"] == "albumentations" for step in got["data"]["train_transform"])
    assert "# the train data set's transform (Images, loader at train.py:" in manifest
    assert s["data.random_crop"] == s["data.hflip"] == s["train.optimizer"] == s["train.epochs"] == "pass"
    assert found["data.extra_augmentation"]["observed"] == ["colour_jitter"]
    assert s["data.mean_subtraction"] == s["data.pca_lighting"] == s["eval.ten_crop"] == "deviation"
    assert s["data.resize"] == "deviation"  # shorter side 256, then a random 224 crop: no central 256 patch
    _audits_the_same(got, "albumentations_real", tmp_path)  # its manifest, audited: the same bytes
