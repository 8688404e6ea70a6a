"""The training command of a repository, read from its README or its scripts (`target.entrypoint`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from alexnet_audit.capture.run import split_command
from alexnet_audit.target.entrypoint import find_training_command

GUARD = 'if __name__ == "__main__":\n    main()\n'


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("readme, argv, line", [
    ("# X\n\n```bash\n$ python train.py --data ./imagenet --epochs 90\n```\n",
     ["python", "train.py", "--data", "./imagenet", "--epochs", "90"], 4),
    ("Run:\n\n    CUDA_VISIBLE_DEVICES=0 python3 train.py \\\n        --lr 0.01\n",
     ["CUDA_VISIBLE_DEVICES=0", "python3", "train.py", "--lr", "0.01"], 3),
    ("Train with `python train.py /data/imagenet` on one GPU.\n", ["python", "train.py", "/data/imagenet"], 1),
    ("```\npython -m pkg.train --cfg cfg.yaml  # the default config\n```\n",
     ["python", "-m", "pkg.train", "--cfg", "cfg.yaml"], 2),
    ("```\npython evaluate.py --ckpt best.pth\npython missing.py\npython train.py\n```\n", ["python", "train.py"], 4),
])
def test_the_readme_command_that_runs_a_script_of_the_repository(tmp_path: Path, readme: str, argv: list[str],
                                                                  line: int) -> None:
    root = _repo(tmp_path, {"README.md": readme, "train.py": "", "evaluate.py": "", "pkg/__init__.py": "",
                            "pkg/train.py": ""})
    found = find_training_command(root).found
    assert found is not None and found.argv == argv and found.source == f"shown in README.md line {line}"


def test_a_readme_without_a_command_falls_back_to_the_one_guarded_training_script(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"README.md": "```\npip install -r requirements.txt\n```\n", "model.py": "",
                            "tools/train_imagenet.py": f"def main():\n    pass\n\n\n{GUARD}",
                            "utils/main.py": "x = 1\n"})
    found = find_training_command(root).found
    assert found is not None and found.argv == ["python", "tools/train_imagenet.py"]
    assert "with a __main__ guard" in found.source


def test_two_guarded_scripts_at_one_depth_are_not_guessed_between(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"train_cifar.py": GUARD, "train_imagenet.py": GUARD, "deep/main.py": GUARD})
    search = find_training_command(root)
    assert search.found is None and search.ambiguous == ["train_cifar.py", "train_imagenet.py"]


def test_an_unguarded_train_script_and_a_lone_notebook_are_run_whole(tmp_path: Path) -> None:
    found = find_training_command(_repo(tmp_path / "a", {"train.py": "import torch\n", "main.py": "x = 1\n"})).found
    assert found is not None and found.argv == ["python", "train.py"] and "named for training" in found.source
    found = find_training_command(_repo(tmp_path / "b", {"AlexNet.ipynb": "{}", "model.py": ""})).found
    assert found is not None and found.argv == ["AlexNet.ipynb"]


@pytest.mark.parametrize("typed, runs", [
    (["nb.ipynb"], ["nb.ipynb"]),
    (["python", "nb.ipynb", "--epochs", "1"], ["nb.ipynb", "--epochs", "1"]),
    (["jupyter", "nbconvert", "--to", "html", "--execute", "nb.ipynb"], ["nb.ipynb"]),
    (["papermill", "nb.ipynb", "out.ipynb", "-p", "lr", "0.1"], ["nb.ipynb"]),
])
def test_a_notebook_command_runs_under_the_cell_runner(typed: list[str], runs: list[str]) -> None:
    env, argv = split_command(["SEED=1", *typed])
    assert env == {"SEED": "1"} and argv[1:3] == ["-m", "alexnet_audit.capture.cells"] and argv[3:] == runs
