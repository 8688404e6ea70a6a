"""Target manifests: the fixture repository loads and builds; every problem is one clear line."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torchvision  # noqa: F401  (imported once, before the fixture snapshots sys.modules)

from alexnet_audit.target.manifest.load import KEYS, load_manifest, validate
from alexnet_audit.target.manifest.stubs import StubModule, install_stubs
from alexnet_audit.target.record import TargetError
from tests.fixtures.repo import make_repo


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run in tmp_path and undo what loading a manifest does to sys.modules / sys.path / the stub finder."""
    from alexnet_audit.target.manifest import stubs

    monkeypatch.chdir(tmp_path)
    modules, path, roots = set(sys.modules), list(sys.path), set(stubs._FINDER.roots)
    yield tmp_path
    for name in set(sys.modules) - modules:  # only what the test loaded (never torch's own modules)
        mod = sys.modules[name]
        if isinstance(mod, StubModule) or str(getattr(mod, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = path
    stubs._FINDER.roots.clear()
    stubs._FINDER.roots.update(roots)


def _manifest(tmp_path: Path, text: str, name: str = "target.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


def test_fixture_repository_loads_with_sys_path_kwargs_and_stubs(isolated: Path) -> None:
    manifest = make_repo(isolated / "their_repo", package="pkg_loads")
    target = load_manifest(manifest)

    assert target.name == "their-alexnet"
    assert target.input_size == (3, 32, 32) and target.num_classes == 7
    assert isinstance(sys.modules["tensorboardX"], StubModule)
    assert isinstance(sys.modules["tensorboardX.utils"], StubModule)  # submodule served by the finder
    model = target.model()
    assert model.classifier[-1].out_features == 7  # kwargs reached the factory
    assert model.features[0][0].out_channels == 4  # width=4
    assert target.model() is not model  # every call builds afresh
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)

    assert target.declared == frozenset({"optimizer", "scheduler", "batch_size", "epochs", "train_transform"})
    assert target.recipe["batch_size"] == 128 and target.recipe["epochs"] == 90
    opt = target.recipe["optimizer"](model.parameters())
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.01, 0.9, 0.0005, False)
    sched = target.recipe["scheduler"](opt)
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) and sched.factor == 0.1
    assert target.recipe["loss"]() .__class__ is torch.nn.CrossEntropyLoss  # a reference, used as given
    from PIL import Image

    img = Image.new("RGB", (40, 50))
    assert target.recipe["train_transform"](img).shape == (3, 32, 32)
    assert target.recipe["eval_transform"](img).shape == (3, 32, 32)

    assert set(target.waivers) == {"init.weights", "data.pca_lighting"}
    assert target.waivers["data.pca_lighting"].until is not None
    assert "A fixture repository written by the tests." in target.notes
    assert any("tensorboardX" in n for n in target.notes)
    assert (isolated / "written_at_import.txt").exists()  # in-process: the cwd (compare uses a scratch dir)


def test_file_form_model_reference_relative_to_the_manifest(isolated: Path) -> None:
    make_repo(isolated / "repo", package="pkg_fileform")
    p = _manifest(isolated / "repo" / "configs", """
        model: ../src/pkg_fileform/model.py:SmallAlexNet
        kwargs: {num_classes: 3}
        sys_path: [.., ../src]
        stub_modules: [tensorboardX, torchsummary]
        input_size: 32
        """, name="file_form.yaml")
    target = load_manifest(p)
    assert target.name == "file_form" and target.input_size == (3, 32, 32)
    assert target.model()(torch.randn(1, 3, 32, 32)).shape == (1, 3)
    assert target.recipe == {} and target.declared == frozenset()


def test_without_stub_modules_the_import_error_names_the_module_and_suggests_stubs(isolated: Path) -> None:
    make_repo(isolated / "repo", package="pkg_nostub")
    p = _manifest(isolated / "repo" / "configs", """
        model: pkg_nostub.model:build
        sys_path: [.., ../src]
        """, name="nostub.yaml")
    with pytest.raises(TargetError) as err:
        load_manifest(p)
    msg = str(err.value)
    assert "'tensorboardX'" in msg and "stub_modules" in msg and "\n" not in msg


def test_bad_kwargs_say_so(isolated: Path) -> None:
    make_repo(isolated / "repo", package="pkg_badkw")
    p = _manifest(isolated / "repo" / "configs", """
        model: pkg_badkw.model:build
        kwargs: {num_class: 3}
        sys_path: [.., ../src]
        stub_modules: [tensorboardX, torchsummary]
        """, name="badkw.yaml")
    with pytest.raises(TargetError, match=r"model: calling build\(\*\*kwargs\) failed: TypeError: .*num_class"):
        load_manifest(p)


def test_unknown_key_has_a_did_you_mean(isolated: Path) -> None:
    p = _manifest(isolated, """
        model: torch.nn:Identity
        kwarg: {x: 1}
        """)
    with pytest.raises(TargetError) as err:
        load_manifest(p)
    assert str(err.value) == (f"{p}: unknown key 'kwarg' (did you mean 'kwargs'?); allowed: {', '.join(KEYS)}.")


def test_every_problem_is_one_line_naming_file_and_key(isolated: Path) -> None:
    p = _manifest(isolated, """
        stub_module: [tensorboardX]
        num_classes: ten
        input_size: [3, 224]
        batch_size: 0
        optimizer: 5
        notes: {a: b}
        """)
    with pytest.raises(TargetError) as err:
        load_manifest(p)
    lines = str(err.value).splitlines()
    assert len(lines) == 7
    assert all(line.startswith(str(p)) for line in lines)
    text = str(err.value)
    assert "unknown key 'stub_module' (did you mean 'stub_modules'?)" in text
    assert "model: missing" in text
    assert "num_classes: must be a positive integer (got 'ten')" in text
    assert "input_size: must be an integer (227) or [C, H, W] (got [3, 224])" in text
    assert "batch_size: must be a positive integer (got 0)" in text
    assert "optimizer: must be a 'module:attr'" in text
    assert "notes: must be a string or a list of strings" in text


def test_missing_model_alone(isolated: Path) -> None:
    p = _manifest(isolated, "num_classes: 10\n")
    with pytest.raises(TargetError, match=r"target.yaml: model: missing"):
        load_manifest(p)


@pytest.mark.parametrize("body, expected", [
    ("optimizer: {type: SDG, lr: 0.01}", "optimizer.type: unknown optimizer 'SDG' (did you mean 'SGD'?)"),
    ("optimizer: {type: SGD, lr: 0.01, momentun: 0.9}",
     "optimizer: SGD takes no argument 'momentun' (did you mean 'momentum'?)"),
    ("optimizer: {lr: 0.01}", "optimizer: a literal optimizer needs 'type'"),
    ("optimizer: {type: SGD, lr: fast}", "optimizer.lr: must be a number (got 'fast')"),
    ("scheduler: {type: StepLr, step_size: 30}", "scheduler.type: unknown scheduler 'StepLr' (did you mean 'StepLR'?)"),
    ("loss: {type: CrossEntropyLos}", "loss.type: unknown loss 'CrossEntropyLos' (did you mean 'CrossEntropyLoss'?)"),
    ("train_transform: [ToTensr]", "train_transform[0].type: unknown transform 'ToTensr' (did you mean 'ToTensor'?)"),
    ("waivers: {lrn.k: {reason: x, untill: 2030-01-01}}", "unknown key 'untill' (did you mean 'until'?)"),
])
def test_recipe_and_waiver_errors(isolated: Path, body: str, expected: str) -> None:
    p = _manifest(isolated, f"model: torch.nn:Identity\n{body}\n")
    with pytest.raises(TargetError) as err:
        load_manifest(p)
    assert expected in str(err.value)
    assert str(err.value).startswith(str(p))


def test_waiver_ids_are_checked_against_the_run_spec(isolated: Path) -> None:
    """A manifest's waiver ids are validated against the spec the audit runs with, not the packaged one."""
    from alexnet_audit.spec.load import load_spec
    from alexnet_audit.spec.waivers import WaiverError, merge_waivers

    p = _manifest(isolated, "model: torch.nn:Identity\nwaivers: {lrn.kk: because}\n")
    target = load_manifest(p)
    with pytest.raises(WaiverError) as err:
        merge_waivers(target, load_spec())
    assert "waivers: unknown item id 'lrn.kk' (did you mean 'lrn.k'?)" in str(err.value)


def test_model_reference_problems(isolated: Path) -> None:
    (isolated / "m.py").write_text("import torch.nn as nn\nclass Net(nn.Module):\n    pass\nVALUE = 3\n")
    with pytest.raises(TargetError, match=r"has no attribute 'Nett' \(did you mean 'Net'\?\)"):
        load_manifest(_manifest(isolated, "model: m.py:Nett\n", "a.yaml"))
    with pytest.raises(TargetError, match=r"model: int is neither an nn.Module nor a callable"):
        load_manifest(_manifest(isolated, "model: m.py:VALUE\n", "b.yaml"))
    with pytest.raises(TargetError, match=r"no such file"):
        load_manifest(_manifest(isolated, "model: nothere.py:Net\n", "c.yaml"))
    with pytest.raises(TargetError, match=r"model: must be 'package.module:attr'"):
        load_manifest(_manifest(isolated, "model: m.py\n", "d.yaml"))


def test_yaml_and_file_problems(isolated: Path) -> None:
    with pytest.raises(TargetError, match=r"bad.yaml: not valid YAML at line 2"):
        load_manifest(_manifest(isolated, "model: [unclosed\n", "bad.yaml"))
    with pytest.raises(TargetError, match=r"a manifest is a mapping"):
        load_manifest(_manifest(isolated, "- a\n- b\n", "list.yaml"))
    with pytest.raises(TargetError, match=r"no such manifest file"):
        load_manifest(isolated / "absent.yaml")


def test_validate_accepts_a_complete_manifest() -> None:
    data = {"name": "x", "model": "a:b", "kwargs": {"n": 1}, "sys_path": ["."], "stub_modules": "wandb",
            "input_size": 227, "num_classes": 10, "optimizer": {"type": "SGD"}, "scheduler": "m:s", "loss": "m:l",
            "batch_size": 128, "epochs": 90, "train_transform": ["ToTensor"], "eval_transform": "m:t",
            "waivers": {}, "notes": ["n"]}
    assert validate(data, "f.yaml") == []


def test_stub_modules_are_permissive(isolated: Path) -> None:
    install_stubs(["some_missing_logger", "deep_missing.pkg.mod"])
    import deep_missing.pkg.mod as deep  # noqa: F401  (parents stubbed too)
    import some_missing_logger as sml
    from some_missing_logger.sub import Thing

    assert isinstance(deep, StubModule)
    obj = sml.Writer("runs", flush=True)
    obj.add_scalar("loss", 1.0)  # attribute chains and calls all work
    with sml.context() as ctx:
        assert not ctx
    assert list(sml.items) == []

    class Sub(Thing):  # subclassing a stubbed class works
        pass

    @sml.decorator
    def f() -> int:
        return 3

    assert f() == 3 and Sub() is not None
    with pytest.raises(AttributeError):
        sml.__file__  # noqa: B018  dunders are not faked (inspect/pickle stay honest)


def test_the_readme_manifest_example_is_valid() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    if "<!-- targets -->" not in text:
        pytest.skip("README has no targets section")
    section = text.split("<!-- targets -->", 1)[1].split("<!-- /targets -->", 1)[0]
    import yaml

    blocks = [b.split("```", 1)[0] for b in section.split("```yaml")[1:]]
    assert blocks, "the README shows a manifest"
    data = yaml.safe_load(blocks[0])
    assert validate(data, "README") == []
    from alexnet_audit.target.manifest.load import _literal_optimizer, _literal_scheduler, _literal_transform

    problems: list[str] = []
    opt = _literal_optimizer(data["optimizer"], "optimizer", problems)
    sched = _literal_scheduler(data["scheduler"], "scheduler", problems)
    tf = _literal_transform(data["train_transform"], "train_transform", problems)
    assert problems == [] and opt is not None and sched is not None and len(tf.transforms) == 3


# ----------------------------------------------- what capture records (issue 14, Build 4) ---

_REPO_CODE = '''
import torch.nn as nn
import torchvision.transforms as T


class Net(nn.Module):
    def __init__(self, cfg=None, num_classes=10):
        super().__init__()
        self.cfg = cfg
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4, num_classes))

    def forward(self, x):
        return self.body(x)


class Cfg:
    def __init__(self, depth):
        self.depth = depth


def make_cfg(depth=1):
    return Cfg(depth)


class Lighting:
    def __init__(self, alphastd):
        self.alphastd = alphastd

    def __call__(self, x):
        return x


class MirrorAlb:  # albumentations-style: keyword `image`, returns a dict
    def __call__(self, *, image, force_apply=False):
        return {"image": image[:, ::-1].copy()}


class Data:
    def __init__(self, size):
        self.train_tf = T.Compose([T.Resize(size), T.ToTensor()])
'''


def _repo(tmp: Path) -> Path:
    (tmp / "code.py").write_text(_REPO_CODE, encoding="utf-8")
    return tmp


def test_none_marks_absent_parts_and_they_are_judged_not_skipped(isolated: Path) -> None:
    from alexnet_audit.audit.verify import verify
    from alexnet_audit.spec.load import load_spec

    _repo(isolated)
    path = _manifest(isolated, """
        model: code.py:Net
        input_size: 32
        optimizer: {type: SGD, lr: 0.01, momentum: 0.9}
        scheduler: none
        loss: null
        eval_transform: none
    """)
    target = load_manifest(path)
    assert target.absent == frozenset({"scheduler", "loss", "eval_transform"})
    assert "absent" in target.describe()
    found = verify(load_spec(), target, only=["train.lr_schedule", "train.loss", "eval.ten_crop"]).by_id()
    for fid in ("train.lr_schedule", "train.loss", "eval.ten_crop"):
        assert found[fid].status.value == "deviation", (fid, found[fid].message)
        assert found[fid].observed == "none"


def test_typed_arguments_references_calls_and_albumentations_steps(isolated: Path) -> None:
    from PIL import Image

    _repo(isolated)
    path = _manifest(isolated, """
        model: code.py:Net
        kwargs: {cfg: {call: code.py:make_cfg, kwargs: {depth: 3}}}
        train_transform:
          - {type: RandomResizedCrop, size: 16, interpolation: bilinear}
          - {type: code.py:MirrorAlb, style: albumentations}
          - ToTensor
          - {type: ConvertImageDtype, dtype: torch.float}
          - {type: code.py:Lighting, alphastd: 0.1}
          - {type: v2.RandomErasing, p: 0.5}
        eval_transform: {call: code.py:Data, kwargs: {size: 20}, attr: train_tf}
    """)
    target = load_manifest(path)
    assert target.model().cfg.depth == 3  # a constructor argument built by a referenced callable
    tf = target.recipe["train_transform"]
    assert tf.transforms[3].dtype is torch.float32
    assert tf.transforms[4].alphastd == 0.1
    out = tf(Image.new("RGB", (50, 40)))
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    assert target.recipe["eval_transform"](Image.new("RGB", (40, 40))).shape == (3, 20, 20)


def test_optimizer_param_groups_by_name_loss_feeds_and_techniques(isolated: Path) -> None:
    _repo(isolated)
    path = _manifest(isolated, """
        model: code.py:Net
        optimizer: {type: SGD, lr: 0.01, momentum: 0.9, param_groups: [{params: [body.4.bias], lr: 0.02}]}
        scheduler: {type: OneCycleLR, max_lr: 0.1, total_steps: 1000}
        loss: {function: torch.nn.functional:cross_entropy, input: probabilities}
        techniques:
          grad_clip: {max_norm: 5.0}
          amp: {dtype: float16, grad_scaler: true}
          scheduler_step: {every: iteration, per_epoch: 10}
          channels_last: false
    """)
    target = load_manifest(path)
    model = target.model()
    opt = target.recipe["optimizer"](list(model.parameters()))
    assert [(len(g["params"]), g["lr"]) for g in opt.param_groups] == [(3, 0.01), (1, 0.02)]
    sched = target.recipe["scheduler"](opt)
    opt.step()
    sched.step()  # one epoch: ten iterations of OneCycleLR
    assert sched.inner.last_epoch == 10
    z, t = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    assert torch.allclose(target.recipe["loss"](z, t), torch.nn.functional.cross_entropy(z.softmax(1), t))
    assert target.recipe["techniques"] == {"grad_clip": {"max_norm": 5.0}, "amp": {"dtype": "float16",
                                           "grad_scaler": True}, "scheduler_step": {"every": "iteration",
                                                                                    "per_epoch": 10}}


def test_every_new_problem_names_the_file_the_key_and_the_step(isolated: Path) -> None:
    _repo(isolated)
    path = _manifest(isolated, """
        model: code.py:Net
        train_transform:
          - {type: ConvertImageDtype, dtype: torch.flaot}
          - {type: code.py:Lightin}
          - {type: RandomCrop, sise: 3}
        loss: {function: torch.nn.functional:cross_entropy, input: probs}
        optimizer: {type: SGD, lr: 0.1, param_groups: [{params: [body.9.weight]}]}
        techniques: {grad_clip: {max_nrom: 1}, emaa: {}}
    """)
    with pytest.raises(TargetError) as info:
        load_manifest(path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(str(path)) for line in lines)
    text = str(info.value)
    assert "train_transform[0] (ConvertImageDtype).dtype: 'torch.flaot' is not a torch dtype" in text
    assert "train_transform[1].type (code.py:Lightin)" in text and "did you mean 'Lighting'" in text
    assert "train_transform[2] (RandomCrop): RandomCrop takes no argument 'sise' (did you mean 'size'?)" in text
    assert "loss.input: one of logits, probabilities, log_probabilities" in text
    assert "optimizer.param_groups[0].params: the model has no parameter 'body.9.weight'" in text
    assert "techniques.grad_clip.max_nrom: unknown setting (did you mean 'max_norm'?)" in text
    assert "techniques.emaa: unknown technique (did you mean 'ema'?)" in text
    assert len(lines) == 7


def test_declared_techniques_are_judged_by_the_new_items(isolated: Path) -> None:
    from alexnet_audit.audit.verify import verify
    from alexnet_audit.spec.load import load_spec

    _repo(isolated)
    ids = ["train.extra_techniques"]
    for techniques, status, observed in (("{}", "pass", []), ("{amp: {dtype: bfloat16}}", "variant", ["amp"]),
                                         ("{amp: true, ema: {decay: 0.99}}", "deviation", ["amp", "ema"])):
        path = _manifest(isolated, f"""
            model: code.py:Net
            loss: {{type: CrossEntropyLoss}}
            techniques: {techniques}
        """, name=f"t{len(observed)}.yaml")
        found = verify(load_spec(), load_manifest(path), only=ids).by_id()["train.extra_techniques"]
        assert (found.status.value, found.observed) == (status, observed), found.message
        assert found.evidence.startswith("declared, not measured")
