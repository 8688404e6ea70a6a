"""The parts of capture that need no subprocess: the manifest writer, definitions, fake data, usage."""
from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from alexnet_audit.capture.script_defs import definitions_file
from alexnet_audit.capture.writer import manifest_text
from alexnet_audit.target.manifest.load import validate

RECORD = {
    "main_file": "train.py", "script_dir": ".", "opt_steps": 2, "epochs_started": 2, "finished": "after",
    "model": {"class": "__main__:Net", "kwargs": {"num_classes": 10}, "lost": [], "at": "train.py:30",
              "params": ["fc.weight", "fc.bias"]},
    "input_size": [3, 224, 224],
    "optimizer": {"class": "torch.optim.sgd:SGD", "defaults": {"lr": 0.1, "momentum": 0.9},
                  "groups": [{"params": ["fc.weight", "fc.bias"], "lr": 0.1, "momentum": 0.9, "dampening": 0,
                              "nesterov": False}], "at": "train.py:31"},
    "scheduler": {"class": "torch.optim.lr_scheduler:OneCycleLR", "kwargs": {"max_lr": 0.1, "total_steps": 200},
                  "lost": [], "at": "train.py:32", "steps": [
                      {"opt_steps": 1, "epoch": 1, "metric": None, "at": "train.py:40", "line": "sched.step()"},
                      {"opt_steps": 2, "epoch": 1, "metric": None, "at": "train.py:40", "line": "sched.step()"}]},
    "loss": {"kind": "module", "class": "torch.nn.modules.loss:CrossEntropyLoss", "kwargs": {"label_smoothing": 0.1},
             "lost": [], "input": "logits", "at": "train.py:33"},
    "train": {"batch_size": 128, "batches": 100, "dataset": "ImageFolder", "at": "train.py:20",
              "transform": [{"type": "RandomResizedCrop", "size": 224}, {"type": "__main__:Lighting", "std": 0.1},
                            {"type": "ToTensor"}]},
    "techniques": {"grad_clip": {"max_norm": 1.0, "norm_type": 2.0, "at": "train.py:38"}},
    "notes": ["a note"],
}


def test_the_record_becomes_a_valid_commented_manifest(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("class Net:\n    pass\n\n\nclass Lighting:\n    pass\n\n\nmain()\n",
                                       encoding="utf-8")
    text, defs = manifest_text(RECORD, "demo", ["python", "train.py"], tmp_path, tmp_path, "", "demo")
    data = yaml.safe_load(text)
    assert validate(data, "demo.yaml") == []
    assert data["model"] == "demo_defs.py:Net"  # the script's classes, copied out: importing it would run it
    assert defs is not None and "load_definitions(globals(), 'train.py')" in defs  # the script's, read at its lines
    assert data["optimizer"] == {"type": "SGD", "lr": 0.1, "momentum": 0.9}
    assert data["scheduler"] == {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 200}
    assert data["techniques"]["scheduler_step"] == {"every": "iteration", "per_epoch": 100, "order": "after_optimizer"}
    assert data["loss"] == {"type": "CrossEntropyLoss", "label_smoothing": 0.1}
    assert data["train_transform"][1] == {"type": "demo_defs.py:Lighting", "std": 0.1}
    assert data["techniques"]["grad_clip"] == {"max_norm": 1.0, "norm_type": 2.0}
    assert "# train.py:31" in text and "# train.py:38" in text


def test_an_error_before_the_first_step_makes_the_rest_unreached(tmp_path: Path) -> None:
    rec = {k: v for k, v in RECORD.items() if k in ("main_file", "script_dir", "model", "notes")}
    rec["opt_steps"] = 0
    text, _ = manifest_text(rec, "demo", ["python", "train.py"], tmp_path, tmp_path, "KeyError: 'x' (at t.py:3)")
    data = yaml.safe_load(text)
    assert validate(data, "demo.yaml") == []
    for key in ("optimizer", "scheduler", "loss"):
        assert data[key]["type"] == "alexnet_audit.capture.unreached:Unreached"
        assert "KeyError: 'x'" in data[key]["error"]
    assert data["train_transform"][0]["type"] == "alexnet_audit.capture.unreached:Unreached"


def test_definitions_load_without_the_scripts_top_level_statements_at_the_scripts_lines(tmp_path: Path) -> None:
    script = tmp_path / "repo" / "train.py"
    script.parent.mkdir()
    script.write_text("import torch\nLR = 0.1\n\n\nclass Net:\n    pass\n\n\ndef make():\n    return Net()\n\n\n"
                      "print('training!')\nmain = 3 + LR\nraise SystemExit('the script ran')\n", encoding="utf-8")
    out = tmp_path / "reports"
    out.mkdir()
    (out / "demo_defs.py").write_text(definitions_file(script, out), encoding="utf-8")
    assert "'../repo/train.py'" in (out / "demo_defs.py").read_text(encoding="utf-8")  # relative: same bytes anywhere
    namespace: dict[str, Any] = {"__file__": str(out / "demo_defs.py"), "__name__": "demo_defs"}
    exec(compile((out / "demo_defs.py").read_text(encoding="utf-8"), str(out / "demo_defs.py"), "exec"), namespace)
    assert namespace["LR"] == 0.1 and "torch" in namespace and "main" not in namespace
    net, make = namespace["Net"], namespace["make"]
    assert net.__module__ == "demo_defs" and make.__code__.co_filename == str(script.resolve())
    assert make.__code__.co_firstlineno == 9 and inspect.getsource(make).startswith("def make():")  # its own line


def test_fake_data_writes_imagefolder_and_cifar_trees(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "fake-data", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    train = tmp_path / "d" / "imagenet" / "train"
    assert len(list(train.iterdir())) == 10 and len(list((train / "n00000000").iterdir())) == 4
    assert (tmp_path / "d" / "cifar-10-batches-py" / "test_batch").is_file()
    from torchvision.datasets import ImageFolder

    assert len(ImageFolder(str(train))) == 40


def test_capture_without_a_command_is_a_one_line_usage_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "alexnet_audit.cli.main", "capture", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "alexnet-audit: error: capture needs the training command after `--` (e.g. -- python train.py --epochs 1)"]


def test_an_unreached_manifest_loads_and_its_parts_raise_the_scripts_error(tmp_path: Path) -> None:
    import pytest

    from alexnet_audit.target.manifest.load import load_manifest

    (tmp_path / "net.py").write_text("import torch.nn as nn\n\n\ndef Net():\n    return nn.Linear(2, 2)\n",
                                     encoding="utf-8")
    rec = {"main_file": "net.py", "script_dir": ".", "opt_steps": 0, "notes": [],
           "model": {"class": "net:Net", "kwargs": {}, "lost": [], "at": "net.py:4", "params": []}}
    text, _ = manifest_text(rec, "demo", ["python", "net.py"], tmp_path, tmp_path, "KeyError: 'x' (at net.py:9)")
    (tmp_path / "demo.yaml").write_text(text, encoding="utf-8")
    target = load_manifest(tmp_path / "demo.yaml")
    with pytest.raises(RuntimeError, match="not reached: the script failed before it: KeyError: 'x'"):
        target.recipe["loss"](None, None)
    with pytest.raises(RuntimeError, match="not reached"):
        target.recipe["train_transform"](None)


def _grad_of(loss_fn, emitted: str = "logits", zero: bool = False):  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F

    from alexnet_audit.capture.loss_grad import target_of

    gen = torch.Generator().manual_seed(3)
    raw = torch.zeros(5, 8) if zero else torch.randn(5, 8, generator=gen)
    y = torch.randint(0, 8, (5,), generator=gen)
    z = {"logits": raw, "log_probabilities": F.log_softmax(raw, 1), "probabilities": F.softmax(raw, 1)}[emitted]
    z = z.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss_fn(z, F.one_hot(y, 8).float()), z)
    return target_of(z.detach().double(), g.double(), emitted)


def test_a_hand_written_loss_is_told_by_the_target_distribution_its_gradient_implies() -> None:
    import torch
    import torch.nn.functional as F

    ce = lambda z, t: -(F.log_softmax(z, 1) * t).sum(1).mean()  # noqa: E731
    assert _grad_of(ce) | {"evidence": ""} == {"target": "one_hot", "reduction": "mean", "scale": 1.0, "evidence": ""}
    assert _grad_of(ce, zero=True)["target"] == "one_hot"  # uniform outputs (a zero-initialised head): the mean first
    assert _grad_of(lambda z, t: -(F.log_softmax(z, 1) * t).sum())["reduction"] == "sum"
    assert _grad_of(lambda z, t: 1024 * ce(z, t))["reduction"] == "scaled"  # a GradScaler's scaled loss
    smooth = _grad_of(lambda z, t: -(F.log_softmax(z, 1) * (0.8 * t + 0.2 / 8)).sum(1).mean())
    assert smooth["target"] == "label_smoothing" and smooth["label_smoothing"] == 0.2
    assert _grad_of(lambda z, t: ((z - t) ** 2).mean())["target"] == "other"  # MSE on one-hot: no guess
    assert _grad_of(lambda z, t: -(z * t).sum(1).mean(), "log_probabilities")["target"] == "one_hot"
    on_p = _grad_of(lambda z, t: -(torch.log(z) * (0.9 * t + 0.1 / 8)).sum(1).mean(), "probabilities")
    assert on_p["label_smoothing"] == 0.1
    # under autocast the gradient comes back in bfloat16: the fit allows its rounding and still tells smoothing
    from alexnet_audit.capture.loss_grad import target_of

    z = torch.randn(6, 10, generator=torch.Generator().manual_seed(5)).bfloat16().requires_grad_()
    t = F.one_hot(torch.arange(6) % 10, 10).float()
    for eps, target in ((0.0, "one_hot"), (0.1, "label_smoothing")):
        (g,) = torch.autograd.grad(-(F.log_softmax(z.float(), 1) * ((1 - eps) * t + eps / 10)).sum(1).mean(), z)
        got = target_of(z.detach().double(), g.double(), "logits", float(torch.finfo(g.dtype).eps))
        assert (got["target"], got["reduction"], got.get("label_smoothing", 0.0)) == (target, "mean", eps)


def test_a_measured_loss_is_written_as_a_loss_the_manifest_can_build(tmp_path: Path) -> None:
    base = {"kind": "measured", "at": "train.py:40", "line": "loss.backward()", "evidence": "measured"}
    rec = {**RECORD, "loss": {**base, "emitted": "logits", "target": "label_smoothing", "label_smoothing": 0.1,
                              "reduction": "mean"}}
    (tmp_path / "train.py").write_text("class Net:\n    pass\n\n\nclass Lighting:\n    pass\n", encoding="utf-8")
    data = yaml.safe_load(manifest_text(rec, "demo", ["python", "train.py"], tmp_path, tmp_path, "", "demo")[0])
    assert data["loss"] == {"type": "CrossEntropyLoss", "label_smoothing": 0.1} and validate(data, "d.yaml") == []
    rec["loss"] = {**base, "emitted": "probabilities", "target": "label_smoothing", "label_smoothing": 0.1}
    data = yaml.safe_load(manifest_text(rec, "demo", ["python", "train.py"], tmp_path, tmp_path, "", "demo")[0])
    assert data["loss"]["function"] == "alexnet_audit.capture.loss_grad:cross_entropy_of"
    assert data["techniques"]["label_smoothing"] == 0.1 and validate(data, "d.yaml") == []
    rec["loss"] = {**base, "emitted": "logits", "target": "other"}
    data = yaml.safe_load(manifest_text(rec, "demo", ["python", "train.py"], tmp_path, tmp_path, "", "demo")[0])
    assert data["loss"]["type"] == "alexnet_audit.capture.unreached:Unreached"
    assert "capture cannot name it" in data["loss"]["error"]


def _watched(update, path: Path):  # type: ignore[no-untyped-def]
    """A model, its deepcopy, one SGD step and `update(copy, model)`: what the EMA watch records."""
    import copy
    import weakref

    import torch
    import torch.nn as nn

    from alexnet_audit.capture import ema
    from alexnet_audit.capture.record import Recorder

    class St:  # the parts of hooks.State the watch reads
        def __init__(self, model: nn.Module, path: str) -> None:
            self.rec, self.model, self.every, self.eval_active = Recorder(path, "."), weakref.ref(model), {}, True

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    shadow = copy.deepcopy(model)
    st = St(model, str(path / "record.json"))
    w = ema.Watch(st)
    w.copies[id(shadow)] = shadow
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(model(torch.randn(16, 64)), torch.randint(0, 10, (16,))).backward()
    opt.step()
    ema._snapshot(w)
    with torch.no_grad():
        update(shadow, model)
    ema._check(w, shadow)
    return st.rec.data["techniques"].get("ema")


def test_a_hand_written_ema_is_seen_by_how_a_copy_of_the_model_moves(tmp_path: Path) -> None:
    def in_place(e_model, model):  # type: ignore[no-untyped-def]
        for e, p in zip(e_model.parameters(), model.parameters(), strict=True):
            e.mul_(0.99).add_(p, alpha=0.01)

    def by_state_dict(e_model, model):  # type: ignore[no-untyped-def]
        msd = model.state_dict()
        for k, v in e_model.state_dict().items():
            v.copy_(0.9 * v + 0.1 * msd[k])

    assert _watched(in_place, tmp_path)["decay"] == 0.99
    assert _watched(by_state_dict, tmp_path)["decay"] == 0.9
    assert _watched(lambda e, m: e.load_state_dict(m.state_dict()), tmp_path) is None  # a plain copy is no average
    assert _watched(lambda e, m: None, tmp_path) is None


def test_channels_last_on_the_batches_is_recorded_and_the_wrappers_then_remove_themselves(tmp_path: Path) -> None:
    import torch

    from alexnet_audit.capture.record import Recorder
    from alexnet_audit.capture.techniques import _tensor_channels_last

    rec = Recorder(str(tmp_path / "record.json"), str(Path(__file__).parent))
    _tensor_channels_last(rec, torch)
    try:
        x = torch.randn(2, 3, 8, 8)
        assert x.to(torch.float64).dtype == torch.float64 and "channels_last" not in rec.data["techniques"]
        y = x.contiguous(memory_format=torch.channels_last)
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert rec.data["techniques"]["channels_last"]["at"].startswith("test_pieces.py:")
        assert "to" not in torch.Tensor.__dict__ and "contiguous" not in torch.Tensor.__dict__
        again = Recorder(str(tmp_path / "again.json"), str(Path(__file__).parent))
        _tensor_channels_last(again, torch)
        x.to(memory_format=torch.channels_last)
        assert "channels_last" in again.data["techniques"]
    finally:
        for name in ("to", "contiguous"):
            if name in torch.Tensor.__dict__:
                delattr(torch.Tensor, name)


def test_a_manifest_says_how_the_evaluation_loop_combines_crops_and_eval_ten_crop_judges_it(tmp_path: Path) -> None:
    from alexnet_audit.audit.verify import verify
    from alexnet_audit.spec.load import load_spec
    from alexnet_audit.target.manifest.load import load_manifest

    found = {}
    for combine in ("average", "separate"):
        path = tmp_path / f"{combine}.yaml"
        path.write_text(f"""model: torchvision.models:alexnet
eval_transform: [{{type: Resize, size: 256}}, {{type: TenCrop, size: 224}}]
techniques: {{eval_crops: {{views: 10, combine: {combine}}}}}
""", encoding="utf-8")
        found[combine] = verify(load_spec(), load_manifest(path), only=["eval.ten_crop"]).by_id()["eval.ten_crop"]
    assert found["average"].status.value == "pass" and "averaged over the views" in found["average"].evidence
    sep = found["separate"]
    assert sep.status.value == "deviation" and sep.observed == {"crops": 10, "layout": "corners+center+mirrors",
                                                                 "combine": "separate"}
    assert "each view scored on its own" in sep.evidence and "declared" in sep.evidence


class _Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_a_stand_in_takes_the_length_a_hard_coded_random_split_asks_for(tmp_path: Path) -> None:
    import torch.utils.data as data
    import torchvision.datasets as D

    from alexnet_audit.capture import fake_datasets

    saved, real_split = dict(vars(D)), data.random_split
    rec = _Notes()
    try:
        fake_datasets.install(rec)
        stand_in = D.CIFAR10(str(tmp_path / "absent"), train=True, download=True)
        assert len(stand_in) == 50_000
        train, val = data.random_split(stand_in, [45, 5])  # lengths written for the script's own copy
        assert (len(train), len(val), len(stand_in)) == (45, 5, 50)
        assert rec.notes[-1] == (f"the synthetic stand-in for CIFAR10({str(tmp_path / 'absent')!r}) was given 50 "
                                 "images, the total of the lengths random_split is asked for")
    finally:
        for name in ("ImageFolder", "DatasetFolder", "ImageNet", "Caltech101", "CIFAR10", "CIFAR100", "MNIST",
                     "FashionMNIST"):
            if name in saved:
                setattr(D, name, saved[name])
        data.random_split = real_split
        import torch.utils.data.dataset as dataset_module

        dataset_module.random_split = real_split


def test_only_an_unguarded_import_of_a_missing_module_is_stubbed(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from alexnet_audit.capture import stubs\n"
            "class Rec:\n"
            "    data = {'notes': []}\n"
            "    def note(self, t): self.data['notes'].append(t)\n"
            "    cwd = '.'\n"
            "    def rel(self, p): return p.rsplit('/', 1)[-1]\n"
            "rec = Rec(); stubs.install(rec)\n"
            "try:\n"
            "    import apex_not_installed\n"
            "except ImportError:\n"
            "    apex_not_installed = None\n"
            "import visdom_not_installed.server as vs\n"
            "print(apex_not_installed, rec.data['stub_modules'], type(vs).__name__)\n"
            "try:\n"
            "    import torch_not_a_submodule_of_anything.x\n"
            "except ImportError:\n"
            "    pass\n")
    script = tmp_path / "script.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "None ['visdom_not_installed'] StubModule", done.stderr


def test_the_repositorys_own_package_and_a_guarded_import_chain_are_not_stubbed(tmp_path: Path) -> None:
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("", encoding="utf-8")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "viz.py").write_text("import visdom_not_installed\n", encoding="utf-8")  # unguarded, in a module ...
    (tools / "train.py").write_text(
        "from alexnet_audit.capture import stubs\n"
        "class Rec:\n"
        "    data = {'notes': []}\n"
        f"    cwd = {str(tmp_path)!r}\n"
        "    def note(self, t): self.data['notes'].append(t)\n"
        "    def rel(self, p): return p\n"
        "rec = Rec(); stubs.install(rec)\n"
        "try:\n"
        "    import viz\n"  # ... that the script imports under a guard: its fallback stands
        "except ImportError:\n"
        "    viz = None\n"
        "print(viz, rec.data.get('stub_modules'))\n"
        "import mylib\n", encoding="utf-8")  # the repository's own package, off sys.path: an error, not a stub
    done = subprocess.run([sys.executable, "tools/train.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "None None", done.stderr
    assert "ModuleNotFoundError: No module named 'mylib'" in done.stderr
