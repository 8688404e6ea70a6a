"""The pieces of capture that adapt frameworks owning the loop (Lightning, Hydra/OmegaConf), without a run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch.nn as nn

from alexnet_audit.capture import configs, frameworks
from alexnet_audit.capture.hooks import State
from alexnet_audit.capture.record import Recorder, plain


@pytest.fixture
def state(tmp_path: Path) -> State:
    return State(Recorder(str(tmp_path / "rec.json"), str(tmp_path)), 3)


@pytest.mark.parametrize(("devices", "count"), [(2, 2), ([0, 1, 2], 3), ("0,1", 2), ("4", 4), ("auto", None),
                                                 (-1, None), (True, None)])
def test_devices_asked_for(devices: object, count: int | None) -> None:
    assert frameworks._devices(devices) == count


def test_a_trainer_for_gpus_and_ddp_runs_as_one_full_precision_process_and_says_what_it_asked(state: State) -> None:
    got = frameworks._adapt(state, {"accelerator": "gpu", "devices": 2, "num_nodes": 2, "strategy": "ddp",
                                    "precision": "16-mixed", "max_epochs": 90})
    assert got["devices"] == 1 and got["num_nodes"] == 1 and got["strategy"] == "auto"
    assert got["precision"] == "32-true" and got["max_epochs"] == 90  # the run still believes in its 90 epochs
    data = state.rec.data
    assert data["world_size"] == 4 and data["epochs"]["value"] == 90  # 2 devices x 2 nodes scale the batch
    assert data["techniques"]["amp"]["dtype"] == "float16" and data["techniques"]["parallel"]["kind"] == "ddp"
    if got.get("accelerator") != "gpu":
        assert got["accelerator"] == "cpu" and any("ran on the CPU" in n for n in data["notes"])


def test_a_single_device_trainer_is_left_alone(state: State) -> None:
    got = frameworks._adapt(state, {"accelerator": "cpu", "devices": 1, "max_epochs": 5})
    assert got == {"accelerator": "cpu", "devices": 1, "max_epochs": 5}
    assert "world_size" not in state.rec.data and state.rec.data["techniques"] == {}


def test_a_lightning_module_wrapping_one_network_is_unwrapped_and_one_with_its_own_layers_is_not() -> None:
    import lightning as L

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

    class Wrapper(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = Net()
            self.criterion = nn.CrossEntropyLoss()  # no parameters: still a wrapper

    class Own(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = Net()
            self.head = nn.Linear(2, 2)

    wrapped = Wrapper()
    assert frameworks.unwrap(wrapped) is wrapped.model
    own = Own()
    assert frameworks.unwrap(own) is own
    plain_net = nn.Sequential(Net())  # only a LightningModule is read as a wrapper
    assert frameworks.unwrap(plain_net) is plain_net


def test_a_post_import_hook_runs_after_the_module_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fw_pkg").mkdir()
    (tmp_path / "fw_pkg" / "__init__.py").write_text("")
    (tmp_path / "fw_pkg" / "trainer.py").write_text("class Trainer:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[object] = []
    finder = frameworks._AfterImport({"fw_pkg.trainer": lambda m: seen.append(m.Trainer)})
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    import fw_pkg.trainer  # type: ignore[import-not-found]

    assert seen == [fw_pkg.trainer.Trainer]


def test_omegaconf_objects_as_manifest_values() -> None:
    from omegaconf import DictConfig, OmegaConf

    from alexnet_audit.target.imports import load_object

    cfg = OmegaConf.create({"model": {"channels": [96, 256], "lrn": {"k": 2.0}}, "mean": [0.5, 0.5]})
    ok, value = plain(cfg.model)
    assert ok and value == {"call": configs.CREATE, "args": [{"channels": [96, 256], "lrn": {"k": 2.0}}]}
    rebuilt = load_object(value["call"])(*value["args"])
    assert isinstance(rebuilt, DictConfig) and rebuilt.lrn.k == 2.0  # attribute access, as the constructor uses it
    assert plain(cfg.mean) == (True, [0.5, 0.5])  # a ListConfig is the list it holds
    assert configs.config_call({"a": 1}) is None
