"""The resolver: registered names, module:attr, file.py:attr and manifests; one-line errors."""
from __future__ import annotations

import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from alexnet_audit.target.record import Target, TargetError
from alexnet_audit.target.resolve import (
    BUILTIN_TARGETS,
    ENTRY_POINT_GROUP,
    absolutize,
    default_name,
    load_target,
    registered_targets,
    safe_name,
    split_ref,
)

TINY = '''
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1)[:, :4])

def build():
    return Net(3)

def recipe():
    return {"model": build, "input_size": (3, 8, 8), "num_classes": 3, "batch_size": 64}

INSTANCE = Net(5)
MAPPING = {"model": Net, "input_size": 8}
NOT_A_MODEL = 42

def returns_string():
    return "nope"

def raises():
    raise RuntimeError("factory exploded")
'''


@pytest.fixture
def tiny_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny_model.py"
    path.write_text(textwrap.dedent(TINY), encoding="utf-8")
    return path


def test_registered_targets_are_the_builtins_and_match_the_entry_points() -> None:
    reg = registered_targets()
    assert list(reg)[:7] == ["reference", "torchvision", "seed-000", "seed-001", "seed-002", "seed-003", "seed-004"]
    installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name, value in BUILTIN_TARGETS.items():
        assert installed.get(name, value) == value  # pyproject.toml and the fallback agree


def test_registered_name_builds_a_target_without_building_the_model() -> None:
    t = load_target("seed-003")
    assert isinstance(t, Target)
    assert (t.name, t.source, t.num_classes, t.input_size) == ("seed-003", "seed-003", 5, (3, 227, 227))


def test_unknown_name_has_a_did_you_mean() -> None:
    with pytest.raises(TargetError) as err:
        load_target("torchvison")
    msg = str(err.value)
    assert "unknown target 'torchvison' (did you mean 'torchvision'?)." in msg and "\n" not in msg


def test_module_attr(tiny_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tiny_file.parent))
    monkeypatch.delitem(sys.modules, "tiny_model", raising=False)
    t = load_target("tiny_model:recipe")
    assert t.name == "tiny_model.recipe" and t.input_size == (3, 8, 8) and t.recipe == {"batch_size": 64}
    assert t.model()(torch.randn(2, 3, 8, 8)).shape == (2, 3)
    with pytest.raises(TargetError, match=r"'tiny_model' has no attribute 'biuld' \(did you mean 'build'\?\)"):
        load_target("tiny_model:biuld")
    sys.modules.pop("tiny_model", None)


@pytest.mark.parametrize("attr, classes", [("Net", 10), ("build", 3), ("INSTANCE", 5), ("MAPPING", 10),
                                           ("recipe", 3)])
def test_file_attr_forms(tiny_file: Path, attr: str, classes: int) -> None:
    t = load_target(f"tiny_model.py:{attr}")
    assert t.name == f"tiny_model.{attr}"
    m1, m2 = t.model(), t.model()
    assert isinstance(m1, nn.Module) and m1 is not m2  # independent, fresh models
    assert m1.fc.out_features == classes


def test_file_attr_errors(tiny_file: Path) -> None:
    with pytest.raises(TargetError, match=r"int is not an nn.Module, a mapping or a callable"):
        load_target("tiny_model.py:NOT_A_MODEL")
    with pytest.raises(TargetError, match=r"the factory returned str, not an nn.Module"):
        load_target("tiny_model.py:returns_string")
    with pytest.raises(TargetError, match=r"calling the target factory failed: RuntimeError: factory exploded"):
        load_target("tiny_model.py:raises")
    with pytest.raises(TargetError, match=r"no such file"):
        load_target("missing_file.py:Net")
    with pytest.raises(TargetError, match=r"name the attribute too"):
        load_target("tiny_model.py")


def test_file_sees_its_siblings_and_missing_imports_suggest_stub_modules(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = tmp_path / "repo_sib"
    repo.mkdir()
    (repo / "sib_layers_x1.py").write_text("import torch.nn as nn\nWIDTH = 6\n")
    (repo / "net.py").write_text("import torch.nn as nn\nimport sib_layers_x1\n"
                                 "def build():\n    return nn.Linear(2, sib_layers_x1.WIDTH)\n")
    (repo / "logged.py").write_text("import torch.nn as nn\nimport tensorboardX\nNet = nn.Identity\n")
    t = load_target("repo_sib/net.py:build")
    assert t.model().out_features == 6
    with pytest.raises(TargetError) as err:
        load_target("repo_sib/logged.py:Net")
    msg = str(err.value)
    assert "needs the module 'tensorboardX'" in msg and "stub_modules" in msg and "\n" not in msg
    sys.modules.pop("sib_layers_x1", None)


def test_import_failures_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "syntax_bad.py").write_text("def broken(:\n")
    (tmp_path / "raises_at_import.py").write_text("raise SystemExit('bye')\n")
    with pytest.raises(TargetError, match=r"SyntaxError in .*syntax_bad.py line 1"):
        load_target("syntax_bad.py:x")
    with pytest.raises(TargetError, match=r"importing raises_at_import.py failed: SystemExit: bye"):
        load_target("raises_at_import.py:x")
    with pytest.raises(TargetError, match=r"no module named 'no_such_pkg_q'"):
        load_target("no_such_pkg_q.models:alexnet")


def test_manifest_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text("name: my net\nmodel: torch.nn:Flatten\ninput_size: 8\nepochs: 3\n")
    t = load_target("t.yaml")
    assert t.name == "my-net" and t.input_size == (3, 8, 8) and t.declared == frozenset({"epochs"})
    assert load_target("t.yaml", name="other").name == "other"


def test_names_and_paths() -> None:
    assert split_ref("pkg.mod:attr") == ("pkg.mod", "attr")
    assert split_ref("C:/x/model.py:Net") == ("C:/x/model.py", "Net")
    assert split_ref("seed-000") is None and split_ref("C:model.yaml") is None
    assert default_name("seed-000") == "seed-000"
    assert default_name("torchvision.models:alexnet") == "models.alexnet"
    assert default_name("some/dir/model.py:AlexNet") == "model.AlexNet"
    assert default_name("nowhere/target.yaml") == "target"
    assert safe_name("a b/c:d") == "a-b-c-d" and safe_name("///") == "target"
    base = Path("/base")
    assert absolutize("x/m.py:Net", base) == "/base/x/m.py:Net"
    assert absolutize("t.yaml", base) == "/base/t.yaml"
    assert absolutize("pkg.mod:Net", base) == "pkg.mod:Net" and absolutize("seed-001", base) == "seed-001"


# ------------------------------------------------------ third-party targets (entry points) ---

THIRD_PARTY = '''
import torch.nn as nn


def build():
    return {"model": lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 4)), "input_size": (3, 2, 2),
            "num_classes": 4, "epochs": 7}
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A distribution installed the way pip installs one (a *.dist-info with entry_points.txt on sys.path)
    that registers `their-alexnet` under the group `alexnet_audit.targets`; nothing of ours is patched."""
    site = tmp_path / "site-packages"
    dist = site / "their_alexnet_audit_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: their-alexnet-audit-plugin\nVersion: 1.0\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntheir-alexnet = their_alexnet_mod:build\n"
                                           "zz-last = their_alexnet_mod:build\n", encoding="utf-8")
    (site / "their_alexnet_mod.py").write_text(textwrap.dedent(THIRD_PARTY), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "their_alexnet_mod", raising=False)
    return "their-alexnet"


def test_an_installed_entry_point_registers_a_target(installed_plugin: str) -> None:
    reg = registered_targets()
    assert reg[installed_plugin] == "their_alexnet_mod:build"
    assert list(reg) == [*BUILTIN_TARGETS, "their-alexnet", "zz-last"]  # built-ins first, then by name
    t = load_target(installed_plugin)
    assert (t.name, t.source, t.num_classes, t.input_size) == ("their-alexnet", "their-alexnet", 4, (3, 2, 2))
    assert t.model()(torch.zeros(1, 3, 2, 2)).shape == (1, 4) and t.recipe == {"epochs": 7}
    assert load_target(installed_plugin, name="theirs").name == "theirs"


def test_list_targets_shows_an_installed_entry_point(installed_plugin: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from alexnet_audit.cli.main import main

    assert main(["list", "targets"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[len(BUILTIN_TARGETS):] == [["their-alexnet", "their_alexnet_mod:build"],
                                           ["zz-last", "their_alexnet_mod:build"]]


def test_an_unknown_name_suggests_an_installed_entry_point(installed_plugin: str) -> None:
    with pytest.raises(TargetError, match=r"unknown target 'their-alexnt' \(did you mean 'their-alexnet'\?\)"):
        load_target("their-alexnt")
