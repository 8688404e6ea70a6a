"""The pieces of a folder or notebook target: references, notebook cells, definitions-only imports,
the input-size search, the meta-device screen, the errors, and the manifest text."""
from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision  # noqa: F401  (imported once, before the fixture snapshots sys.modules)

from alexnet_audit.target.definitions import line_ranges, select
from alexnet_audit.target.inferred import manifest_text
from alexnet_audit.target.manifest.load import load_manifest
from alexnet_audit.target.manifest.stubs import StubModule
from alexnet_audit.target.record import TargetError
from alexnet_audit.target.refs import absolutize, default_name, split_pick, split_ref
from alexnet_audit.target.resolve import load_target
from alexnet_audit.target.sources import clean_cell

CIFAR_NET = '''
import torch.nn as nn


class TinyCifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Linear(8 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                                        nn.Linear(16, 10))

    def forward(self, x):
        return self.classifier(self.features(x).view(x.size(0), 8 * 4 * 4))
'''


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Run in tmp_path; undo what loading a folder does to sys.modules, sys.path, sys.meta_path and the stubs."""
    from alexnet_audit.target.manifest import stubs

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALEXNET_AUDIT_NO_STUB", raising=False)
    modules, path, meta, roots = set(sys.modules), list(sys.path), list(sys.meta_path), set(stubs._FINDER.roots)
    yield tmp_path
    for name in set(sys.modules) - modules:
        mod = sys.modules[name]
        if isinstance(mod, StubModule) or str(getattr(mod, "__file__", "") or "").startswith(str(tmp_path)) \
                or name.startswith("_alexnet_audit_target_"):
            del sys.modules[name]
    sys.path[:] = path
    sys.meta_path[:] = meta
    stubs._FINDER.roots.clear()
    stubs._FINDER.roots.update(roots)


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


# ------------------------------------------------------------------------------- references ---


def test_folder_and_notebook_references_are_named_without_importing(tmp_path: Path) -> None:
    assert split_pick("path/to/repo::VGG") == ("path/to/repo", "VGG") and split_ref("path/to/repo::VGG") is None
    assert split_pick("repo") is None and split_pick("repo::") is None
    assert default_name("../their-repo/") == "their-repo" and default_name("some/dir/nb.ipynb") == "nb"
    assert default_name("repo::VGG") == "repo.VGG" and default_name("nb.ipynb::Net") == "nb.Net"
    assert default_name("nb.ipynb:Net") == "nb.Net"
    assert default_name("seed-000") == "seed-000"  # a registered name keeps its name
    (tmp_path / "myrepo").mkdir()
    (tmp_path / "reference").mkdir()
    assert absolutize("myrepo", tmp_path) == str(tmp_path / "myrepo")
    assert absolutize("myrepo::Net", tmp_path) == f"{tmp_path / 'myrepo'}::Net"
    assert absolutize("nb.ipynb", tmp_path) == str(tmp_path / "nb.ipynb")
    assert absolutize("reference", tmp_path) == "reference"  # the registered name wins over the folder


# ----------------------------------------------------------------------------------- cells ---


def test_magics_and_shell_escapes_become_pass_at_their_indentation() -> None:
    cell = clean_cell(4, "import torch\n%matplotlib inline\nif True:\n    !nvidia-smi\nfiles = !ls\nmodel?\n")
    assert cell.code == "import torch\npass\nif True:\n    pass\npass\npass\n"
    assert cell.removed == ["cell 4 line 2: %matplotlib inline", "cell 4 line 4: !nvidia-smi",
                            "cell 4 line 5: files = !ls", "cell 4 line 6: model?"]
    ast.parse(cell.code)
    assert clean_cell(5, "%%bash\necho hi\n").skipped == "cell magic %%bash"
    timed = clean_cell(6, "%%time\nx = 1\n")
    assert not timed.skipped and timed.code == "pass\nx = 1\n"


# ------------------------------------------------------------------------- definitions only ---


def test_only_definitions_run_and_what_depends_on_script_code_is_left_out_too() -> None:
    tree = ast.parse(textwrap.dedent('''
        import torch
        """doc"""
        SIZE = 227
        args = parser.parse_args()
        width = args.width
        model = Net()
        train(model)
        for epoch in range(9):
            pass
        try:
            import apex
        except ImportError:
            apex = None
            print("no apex")
        if __name__ == "__main__":
            main()
        sys.path.insert(0, "..")
        class Net: pass
    '''))
    chosen = select(tree.body, {"Net"})
    kept = [ast.unparse(n).splitlines()[0] for n in chosen.kept]
    assert kept == ["import torch", "'doc'", "SIZE = 227", "try:", "sys.path.insert(0, '..')", "class Net:"]
    assert chosen.dropped == [(5, "parses the command line"), (6, "uses what was not run"), (7, "builds a model"),
                              (8, "trains"), (9, "trains"), (15, "script code")]
    assert line_ranges([3, 4, 5, 9, 11, 12]) == "3-5, 9, 11-12"


def test_a_script_next_to_the_model_is_not_run_when_the_model_file_is_imported(clean: Path) -> None:
    script = 'with open("trained.txt", "w") as fh:\n    fh.write("the script ran")\nprint("training...")\n' \
             'CONFIG = open("missing_config.yaml").read()\n'
    repo = _repo(clean / "scripted", {"net.py": CIFAR_NET + script})
    t = load_target(str(repo))
    assert not (clean / "trained.txt").exists()
    notes = "\n".join(t.notes)
    assert "net.py was imported without its script code: 2 top-level statement(s) not run, lines 19, 21." in notes
    assert "net.py line 22: `CONFIG = open('missing_config.yaml').read()` failed when its file was imported " \
           "(FileNotFoundError:" in notes


# ------------------------------------------------------------------------------ input sizes ---


def test_the_input_size_is_found_by_running_and_every_try_is_noted(clean: Path) -> None:
    t = load_target(str(_repo(clean / "cifarish", {"net.py": CIFAR_NET})))
    assert t.input_size == (3, 32, 32)
    size_note = next(n for n in t.notes if n.startswith("Input size"))
    assert size_note.startswith("Input size 3 x 32 x 32: the first size at which the model runs and gives [N, 10] "
                                "scores; tried in order 224 (the usual ImageNet crop): RuntimeError:")
    assert "; 227 (the paper's 227 x 227, which its layer arithmetic needs): RuntimeError:" in size_note
    assert size_note.endswith("; 32 (32 x 32, for a CIFAR-style network): runs.")


def test_a_model_that_cannot_run_on_the_meta_device_is_screened_for_real(clean: Path) -> None:
    checked = "assert x.abs().sum().item() >= 0\n        return self.classifier("
    net = CIFAR_NET.replace("return self.classifier(", checked)
    t = load_target(str(_repo(clean / "itemized", {"net.py": net})))
    assert t.input_size == (3, 32, 32) and t.model()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


# ----------------------------------------------------------------------------------- errors ---


def test_a_folder_without_a_network_says_what_it_scanned(clean: Path) -> None:
    repo = _repo(clean / "empty", {"utils.py": "def add(a, b):\n    return a + b\n", "old.py": "print 'py2'\n"})
    with pytest.raises(TargetError, match=r"no nn.Module subclass or model factory found in 1 Python file\(s\) and "
                                          r"0 notebook\(s\); unreadable: old.py \(SyntaxError line 1\)\."):
        load_target(str(repo))


def test_a_folder_without_a_classifier_says_why_for_each_candidate(clean: Path) -> None:
    repo = _repo(clean / "encoder", {"enc.py": '''
        import torch.nn as nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3)

            def forward(self, x):
                return self.conv(x)
    '''})
    with pytest.raises(TargetError) as err:
        load_target(str(repo))
    assert "none of the 1 candidate network(s) is an image classifier ([N, classes] scores for an image batch): " \
           "Encoder: its output is [2, 4, 30, 30], not [N, classes] scores." in str(err.value)


def test_torch_and_the_audit_itself_are_never_stubbed(clean: Path) -> None:
    repo = _repo(clean / "refused", {"net.py": "from torch.not_a_module import Thing\n" + CIFAR_NET})
    with pytest.raises(TargetError, match=r"TinyCifarNet: it imports 'torch.not_a_module' \(net.py line 1\), "
                                          r"which its installed package 'torch' does not have"):
        load_target(str(repo))
    repo = _repo(clean / "refused2", {"net.py": "import alexnet_ref.not_here\n" + CIFAR_NET})
    with pytest.raises(TargetError, match=r"which its installed package 'alexnet_ref' does not have"):
        load_target(str(repo))


def test_a_file_with_a_double_colon_pick_is_refused(clean: Path) -> None:
    (clean / "m.py").write_text(CIFAR_NET, encoding="utf-8")
    with pytest.raises(TargetError, match=r"'m.py::TinyCifarNet': a file target needs ':attr'"):
        load_target("m.py::TinyCifarNet")
    with pytest.raises(TargetError, match=r"'nowhere': no such folder or notebook"):
        load_target("nowhere::Net")


# ------------------------------------------------------------------------------- manifests ---


def test_the_manifest_text_places_the_folder_relative_to_where_it_is_written(tmp_path: Path) -> None:
    payload = {"format": 1, "name": "repo", "from": str(tmp_path / "src" / "repo"), "kind": "folder",
               "entries": [["model", "model:AlexNet", "chosen: AlexNet (model.py line 3)"],
                           ["input_size", [3, 227, 227], "the first size that runs: 227"]],
               "notes": ["Chose AlexNet: it has 5 + 3.", "it's \"quoted\""]}
    text = manifest_text(payload, tmp_path / "reports")
    assert "inferred_from: ../src/repo  # the folder audited" in text
    assert "model: model:AlexNet  # chosen: AlexNet (model.py line 3)\n" in text
    assert "input_size: [3, 227, 227]  # the first size that runs: 227\n" in text
    import yaml

    data = yaml.safe_load(text)
    assert data["notes"] == payload["notes"] and data["name"] == "repo"


def test_manifest_init_and_inferred_from_are_checked(clean: Path) -> None:
    (clean / "m.yaml").write_text("model: torch.nn:Identity\ninit: weights_init\n", encoding="utf-8")
    with pytest.raises(TargetError, match=r"init: must be \{apply: module:function\}"):
        load_manifest(clean / "m.yaml")
    (clean / "m.yaml").write_text("model: torch.nn:Identity\ninferred_from: ../gone\n", encoding="utf-8")
    with pytest.raises(TargetError, match=r"inferred_from: no such folder or notebook"):
        load_manifest(clean / "m.yaml")


def test_the_worker_returns_the_inferred_manifest(clean: Path) -> None:
    from alexnet_audit.isolate.worker import audit_request
    from alexnet_audit.spec.load import load_spec

    repo = _repo(clean / "cifarish", {"net.py": CIFAR_NET})
    result = audit_request(str(repo), "cifarish", spec=load_spec(), only=["arch.conv1.kernel_size"])
    assert result["ok"] and result["inferred_manifest"]["name"] == "cifarish"
    assert result["report"]["target"]["input_size"] == [3, 32, 32]


def test_two_top_level_files_of_the_same_name_are_kept_apart(clean: Path) -> None:
    small = ("import torch.nn as nn\n\n\nclass {name}(nn.Module):\n    def __init__(self):\n"
             "        super().__init__()\n        self.fc = nn.Linear(3 * 32 * 32, {k})\n\n"
             "    def forward(self, x):\n        return self.fc(x.flatten(1))\n")
    repo = _repo(clean / "twins", {"a/model.py": small.format(name="Small", k=10),
                                   "b/model.py": small.format(name="Other", k=7)})
    t = load_target(str(repo))
    assert "As close: Other; it comes first (classes before factories, then file order)." in t.notes[0]
    other = load_target(f"{repo}::Other")
    assert other.model()(torch.zeros(1, 3, 32, 32)).shape == (1, 7)
    assert other.inferred is not None and other.inferred["entries"][0][1] == "b.model:Other"


def test_an_init_function_called_on_the_model_is_run_too(clean: Path) -> None:
    repo = _repo(clean / "called", {"net.py": CIFAR_NET, "train.py": '''
        import torch.nn as nn

        from net import TinyCifarNet


        def init_weights(model):
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    nn.init.constant_(m.bias, 0.5)


        model = TinyCifarNet()
        init_weights(model)
        model.fit()
    '''})
    t = load_target(str(repo))
    assert "Weight init: train.py line 13 runs `init_weights(model)` right after building the model" in t.notes[3]
    linears = [m for m in t.model().modules() if isinstance(m, torch.nn.Linear)]
    assert all(m.bias.min().item() == m.bias.max().item() == 0.5 for m in linears)
    assert t.inferred is not None and ["init", {"call": "train:init_weights"}] == t.inferred["entries"][-2][:2]
    path = clean / "out" / "called.yaml"
    path.parent.mkdir()
    path.write_text(manifest_text(t.inferred, path.parent), encoding="utf-8")
    again = load_manifest(path, name="called")
    assert again.describe() == t.describe()
    assert all(m.bias.max().item() == 0.5 for m in again.model().modules() if isinstance(m, torch.nn.Linear))


def test_a_notebook_cell_that_defines_and_trains_runs_only_its_definitions(clean: Path) -> None:
    import json

    cells = [("code", "import torch\nimport torch.nn as nn\n"),
             ("code", "%%bash\nwget http://example.com/data.tgz\n"),
             ("markdown", "## the model, trained in the same cell"),
             ("code", CIFAR_NET.replace("import torch.nn as nn\n", "") +
              "\nmodel = TinyCifarNet()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "for epoch in range(3):\n    opt.step()\nopen('ran.txt', 'w').write('trained')\n"),
             ("code", "print('after')\n")]
    nb = {"cells": [{"cell_type": k, "metadata": {}, "source": s, **({"outputs": [], "execution_count": None}
                                                                      if k == "code" else {})} for k, s in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (clean / "nb.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    t = load_target("nb.ipynb")
    notes = "\n".join(t.notes)
    assert not (clean / "ran.txt").exists() and t.input_size == (3, 32, 32)
    assert "nb.ipynb: ran code cells 1, 4 (up to the model's definition); of cell(s) 4 only the definitions " \
           "(they also do other work)." in notes
    assert "nb.ipynb: skipped cell 2 (cell magic %%bash)." in notes
    assert "nb.ipynb: 1 code cell(s) after the model's definition were not run (cell 5)." in notes
