"""A folder or a notebook as a target: the AlexNet is found, built and described, in this process.

The fixture repositories under `repos/` are written the way repositories in the wild are. These
tests load them with `load_target` (no audit: `test_folder_audit.py` runs the audits); each checks
the choice and every assumption the notes state, and that the inferred manifest rebuilds the same
target.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torchvision  # noqa: F401  (imported once, before the fixture snapshots sys.modules)

from alexnet_audit.target.inferred import manifest_text
from alexnet_audit.target.manifest.load import load_manifest
from alexnet_audit.target.manifest.stubs import StubModule
from alexnet_audit.target.record import Target, TargetError
from alexnet_audit.target.resolve import load_target

REPOS = Path(__file__).parent / "repos"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Run in tmp_path; undo what loading a folder does to sys.modules, sys.path, sys.meta_path and the stubs."""
    from alexnet_audit.target.manifest import stubs

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEXNET_AUDIT_NO_STUB", raising=False)
    modules, path, meta, roots = set(sys.modules), list(sys.path), list(sys.meta_path), set(stubs._FINDER.roots)
    yield tmp_path
    for name in set(sys.modules) - modules:  # only what the test loaded (never torch's own modules)
        mod = sys.modules[name]
        origin = str(getattr(mod, "__file__", "") or "")
        if isinstance(mod, StubModule) or origin.startswith((str(REPOS), str(tmp_path))) \
                or name.startswith("_alexnet_audit_target_"):
            del sys.modules[name]
    sys.path[:] = path
    sys.meta_path[:] = meta
    stubs._FINDER.roots.clear()
    stubs._FINDER.roots.update(roots)


def _notes(target: Target) -> str:
    return "\n".join(target.notes)


def _manifest_again(target: Target, where: Path) -> Target:
    """Write the inferred manifest into `where` and load it: what a user gets from the reports folder."""
    assert target.inferred is not None
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{target.name}.yaml"
    path.write_text(manifest_text(target.inferred, where), encoding="utf-8")
    return load_manifest(path, name=target.name)


def _same_target(a: Target, b: Target) -> None:
    assert a.describe() == b.describe()
    ma, mb = a.model(), b.model()
    assert type(ma).__qualname__ == type(mb).__qualname__
    assert [(n, p.shape) for n, p in ma.named_parameters()] == [(n, p.shape) for n, p in mb.named_parameters()]


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


# ------------------------------------------------------------------------------ each repository ---


def test_a_module_level_logger_that_is_not_installed_is_stubbed_and_named(clean: Path) -> None:
    t = load_target(str(REPOS / "tb_logger"))
    notes = _notes(t)
    assert t.name == "tb_logger" and t.source == str(REPOS / "tb_logger") and t.input_size == (3, 227, 227)
    assert "Chose AlexNet (model.py line 9: 5 convolutions and 3 dense layers)" in notes
    assert "tensorboardX (imported at model.py line 4)" in notes and "ALEXNET_AUDIT_NO_STUB=1" in notes
    assert t.notes[-1] == "Stubbed optional modules: tensorboardX."  # the manifest loader's own words
    assert "227 (RandomResizedCrop(227) in train.py line 18): runs" in notes
    assert "Built as AlexNet() (its default arguments)" in notes
    assert t.model()(torch.randn(1, 3, 227, 227)).shape == (1, 1000)
    _same_target(t, _manifest_again(t, clean / "reports"))


def test_no_stub_refuses_and_names_the_module(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXNET_AUDIT_NO_STUB", "1")
    with pytest.raises(TargetError) as err:
        load_target(str(REPOS / "tb_logger"))
    msg = str(err.value)
    assert "it imports 'tensorboardX' (model.py line 4), which is not installed; stubbing is off" in msg
    assert "\n" not in msg


def test_a_package_with_relative_imports_is_imported_as_a_package(clean: Path) -> None:
    t = load_target(str(REPOS / "pkg_relative"))
    notes = _notes(t)
    assert "Chose AlexNet (alexnet_cls/models/alexnet.py line 8" in notes
    assert "imported from `alexnet_cls.models.alexnet` with sys.path [.]" in notes
    assert "The same network is also built by build_model() (alexnet_cls/models/factory.py line 4)." in notes
    # the layer classes are seen, built from the repository's own calls of them, and set aside
    assert "Not image classifiers: ConvReLU (alexnet_cls/models/layers.py line 4" in notes
    assert t.input_size == (3, 227, 227) and "IMAGE_SIZE = 227 in alexnet_cls/config.py" in notes
    assert [c.groups for c in _convs(t.model())] == [1, 2, 1, 2, 2]
    _same_target(t, _manifest_again(t, clean / "out"))


def test_a_src_layout_puts_src_on_the_path(clean: Path) -> None:
    t = load_target(str(REPOS / "src_layout"))
    notes = _notes(t)
    assert "imported from `alexnet_impl.model` with sys.path [src, .]" in notes
    assert t.input_size == (3, 224, 224) and "RandomResizedCrop(224) in scripts/train.py line 6" in notes
    assert "weight-init" not in notes  # init_paper_weights runs in the constructor: nothing to say
    assert t.inferred is not None and ["sys_path", ["src", "."]] == t.inferred["entries"][1][:2]
    _same_target(t, _manifest_again(t, clean / "out"))


def test_several_networks_the_alexnet_is_chosen_by_behaviour(clean: Path) -> None:
    t = load_target(str(REPOS / "multi_net"))
    notes = _notes(t)
    assert "Chose AlexNet (models/alexnet.py line 6: 5 convolutions and 3 dense layers) from the 4 image " \
           "classifier(s) in multi_net: it has the paper's five convolutions and three dense layers" in notes
    assert "Also seen: LeNet (models/lenet.py line 7: 2 convolutions and 3 dense layers), also built by lenet(); " \
           "vgg11() (models/vgg.py line 46: 8 convolutions and 3 dense layers); vgg16() (models/vgg.py line 50: " \
           "13 convolutions and 3 dense layers); audit one with 'multi_net::Name'." in notes
    assert "Not built: VGG (models/vgg.py line 28: needs 'features'" in notes
    assert t.name == "multi_net" and t.input_size == (3, 224, 224)


def test_path_name_picks_another_candidate(clean: Path) -> None:
    vgg = load_target(f"{REPOS / 'multi_net'}::vgg11")
    assert vgg.name == "multi_net.vgg11" and len(_convs(vgg.model())) == 8
    assert "Audited vgg11() (models/vgg.py line 46: 8 convolutions and 3 dense layers), chosen by name " \
           "('multi_net::vgg11')" in _notes(vgg)
    assert "By behaviour the audit would have chosen AlexNet." in _notes(vgg)
    lenet = load_target(f"{REPOS / 'multi_net'}::LeNet")
    assert lenet.input_size == (1, 32, 32)  # its first convolution takes one channel; it runs at 32 only
    assert "tried in order 224 (RandomResizedCrop(224) in main.py line 26): RuntimeError" in _notes(lenet)
    with pytest.raises(TargetError, match=r"no candidate named 'AlexNat' \(did you mean 'AlexNet'\?\)"):
        load_target(f"{REPOS / 'multi_net'}::AlexNat")
    with pytest.raises(TargetError, match=r"VGG \(models/vgg.py line 28\) is not an image classifier: needs"):
        load_target(f"{REPOS / 'multi_net'}::VGG")


def test_a_config_object_is_made_from_the_repository_yaml_by_its_own_loader(clean: Path) -> None:
    t = load_target(str(REPOS / "config_object"))
    notes = _notes(t)
    assert "Built as AlexNet(cfg=load_config('configs/alexnet.yaml')) (cfg has no default: a configuration " \
           "object, made by the repository's own load_config from configs/alexnet.yaml)" in notes
    assert t.input_size == (3, 227, 227) and "image_size: 227 in configs/alexnet.yaml" in notes
    assert t.model()(torch.randn(1, 3, 227, 227)).shape == (1, 100)
    assert t.inferred is not None
    kwargs = dict((k, v) for k, v, _ in t.inferred["entries"])["kwargs"]
    assert kwargs == {"cfg": {"call": "utils.config:load_config", "args": [{"path": "configs/alexnet.yaml"}]}}
    _same_target(t, _manifest_again(t, clean / "out"))


def test_an_init_function_the_training_script_applies_is_run_and_an_unused_one_is_named(clean: Path) -> None:
    t = load_target(str(REPOS / "init_script"))
    notes = _notes(t)
    assert "Weight init: train.py line 29 runs `net.apply(weights_init)` right after building the model" in notes
    assert "utils.py line 4 defines init_weights_xavier, a weight-init function that nothing in the repository " \
           "applies where it builds AlexNet: it was not run" in notes
    assert "train.py was imported without its script code" in notes and "NameError" not in notes
    model = t.model()
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):  # N(0, 0.01) weights, zero biases: weights_init ran
            assert abs(m.weight.std().item() - 0.01) < 0.002 and m.bias.abs().max().item() == 0.0
    again = _manifest_again(t, clean / "out")
    assert again.inferred is None and dict((k, v) for k, v, _ in t.inferred["entries"])["init"] == {  # type: ignore[index]
        "apply": "train:weights_init"}
    _same_target(t, again)
    assert all(m.bias.abs().max().item() == 0.0 for m in again.model().modules() if isinstance(m, nn.Linear))


def test_a_cifar_net_runs_at_32_and_takes_its_class_count_from_the_training_script(clean: Path) -> None:
    t = load_target(str(REPOS / "cifar32"))
    notes = _notes(t)
    assert t.input_size == (3, 32, 32) and "32 (RandomCrop(32) in train.py line 11): runs" in notes
    assert "Built as AlexNet(num_classes=10) (num_classes has no default; train.py line 19 calls " \
           "AlexNet(..., num_classes=10))" in notes
    _same_target(t, _manifest_again(t, clean / "out"))


def test_a_notebook_runs_its_cells_up_to_the_model_without_training_downloading_or_plotting(clean: Path) -> None:
    t = load_target(str(REPOS / "notebook" / "alexnet_imagenette.ipynb"))
    notes = _notes(t)
    assert t.name == "alexnet_imagenette" and t.input_size == (3, 227, 227)
    assert "ran code cells 2, 3, 4, 8 (up to the model's definition)" in notes
    assert "skipped cell 5 (loads data: torchvision.datasets.ImageFolder(" in notes and "cell 6 (plots:" in notes
    assert "IPython magics and shell escapes not run: cell 2 line 1: !pip install torchsummary -q; " \
           "cell 3 line 10: %matplotlib inline." in notes
    assert "3 code cell(s) after the model's definition were not run (cells 9-11)" in notes
    assert "torchsummary (imported at alexnet_imagenette.ipynb cell 3 line 8)" in notes
    _same_target(t, _manifest_again(t, clean / "out"))


def test_the_single_notebook_seed_is_found_at_its_own_32x32(clean: Path) -> None:
    t = load_target(str(REPOS / "seed_001"))
    notes = _notes(t)
    assert t.input_size == (3, 32, 32)
    assert "32 (CIFAR10's own 32 x 32 images (AlexNet_from_Scratch.ipynb cell 5 line 6), with no resize or crop " \
           "in the repository's transforms): runs" in notes
    model = t.model()
    assert sum(p.numel() for p in model.parameters()) == 58_322_314  # the seed's own parameter count
    _same_target(t, _manifest_again(t, clean / "out"))
