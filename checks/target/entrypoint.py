"""A repository's training command, as its README shows it or as its one training script implies.

`audit <folder> --train` runs this command under capture (the recipe items are measured from it);
without `--train` the folder's report says which command that would be. The search, in order:
1. a command in a README's code (a fenced or indented block, or an inline code span) that runs
   Python on a file of the repository (`python train.py ...`, `python3 -m pkg.train ...`, with
   `$ ` prompts, `VAR=value` prefixes and `\\` continuations), one whose script is named like
   training (train, main, run, fit) first;
2. else the one `train*.py` or `main.py` with an `if __name__ == "__main__":` guard (the one
   nearest the root when several are at different depths), run with its default arguments, or
   failing that a `train*.py` without one (its name says it is run as a whole);
3. else the repository's one notebook at its root, run top to bottom.
Several equally good scripts and no README command: none is guessed; the candidates are named.

Pure: reads text, runs nothing.
"""
from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .sources import walk

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(r"`([^`\n]+)`")
_PROMPT = re.compile(r"^\s*(?:\$|>>>|%|#|!)\s*")
_PYTHON = re.compile(r"^(?:[A-Za-z_]\w*=\S*\s+)*(?:python[\d.]*|python)\s")
_TRAINING = re.compile(r"(train|main|run|fit)", re.IGNORECASE)
_MAIN_NAMES = re.compile(r"^(train\w*|main)\.py$")


@dataclass
class TrainCommand:
    """A command to run from the repository's root, and where it was found."""

    argv: list[str]
    source: str  # "shown in README.md line 12", "main.py, the training script with a __main__ guard, ..."

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


@dataclass
class Search:
    """The command found (or None), and the scripts seen when none could be chosen."""

    found: TrainCommand | None = None
    ambiguous: list[str] = field(default_factory=list)


def _readmes(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.name.lower().startswith("readme"))


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of each line of code in a README: fenced or indented blocks, inline spans;
    a line ending in a backslash is joined with the next."""
    out: list[tuple[int, str]] = []
    fenced = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or line.startswith(("    ", "\t")):
            code = line.strip()
            if pending is not None:
                code = pending[1] + " " + code
                number = pending[0]
            if code.endswith("\\"):
                pending = (number, code[:-1].strip())
                continue
            pending = None
            out.append((number, code))
        else:
            pending = None
            out += [(number, m.group(1).strip()) for m in _INLINE.finditer(line)]
    return out


def _python_command(code: str, root: Path) -> list[str] | None:
    """The words of `code` when it runs Python on a file or module of the repository at `root`."""
    code = _PROMPT.sub("", code, count=1).strip()
    if not _PYTHON.match(code + " "):
        return None
    try:
        words = shlex.split(code, comments=True)
    except ValueError:
        return None
    i = next(i for i, w in enumerate(words) if not re.match(r"^[A-Za-z_]\w*=", w))
    rest = words[i + 1:]
    if rest[:1] == ["-m"] and len(rest) > 1:
        module = rest[1]
        parts = module.split(".")
        exists = (root.joinpath(*parts).with_suffix(".py").is_file() or (root / "src").joinpath(*parts)
                  .with_suffix(".py").is_file())
        return words if exists else None
    script = next((w for w in rest if not w.startswith("-")), "")
    return words if script.endswith(".py") and (root / script).is_file() else None


def readme_command(root: Path) -> TrainCommand | None:
    """The README's training command (see the module docstring), or None."""
    found: list[tuple[int, TrainCommand]] = []
    for readme in _readmes(root):
        try:
            text = readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for number, code in _code_lines(text):
            words = _python_command(code, root)
            if words is not None:
                named = any(_TRAINING.search(Path(w).name) for w in words[1:] if not w.startswith("-"))
                found.append((0 if named else 1, TrainCommand(words, f"shown in {readme.name} line {number}")))
    found.sort(key=lambda pair: pair[0])  # stable: the first training-like command in reading order
    return found[0][1] if found else None


def _has_main_guard(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8-sig"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test):
            return True
    return False


def training_scripts(root: Path) -> tuple[list[Path], bool]:
    """`train*.py` and `main.py` files with a `__main__` guard, nearest the root first; else the
    `train*.py` files without one (a script named for training is run as a whole); and whether
    they were guarded."""
    guarded, plain = [], []
    for path in walk(root)[0]:  # the folder scan's own walk: environments and hidden folders are not entered
        if _MAIN_NAMES.match(path.name):
            if _has_main_guard(path):
                guarded.append(path)
            elif path.name.startswith("train"):
                plain.append(path)
    found = guarded or plain
    return sorted(found, key=lambda p: (len(p.relative_to(root).parts), p.as_posix())), bool(guarded)


def find_training_command(root: Path) -> Search:
    """The repository's training command (see the module docstring)."""
    root = root.resolve()
    command = readme_command(root)
    if command is not None:
        return Search(command)
    scripts, guarded = training_scripts(root)
    if not scripts:
        notebooks = sorted(p.name for p in root.glob("*.ipynb") if not p.name.startswith("."))
        if len(notebooks) == 1:  # a repository that is one notebook: it is the training run
            return Search(TrainCommand([notebooks[0]], "the repository's one notebook, run top to bottom"))
        return Search(ambiguous=notebooks)
    depth = len(scripts[0].relative_to(root).parts)
    nearest = [p for p in scripts if len(p.relative_to(root).parts) == depth]
    if len(nearest) > 1:
        return Search(ambiguous=[p.relative_to(root).as_posix() for p in nearest])
    rel = scripts[0].relative_to(root).as_posix()
    how = "the training script with a __main__ guard" if guarded else "a script named for training"
    return Search(TrainCommand(["python", rel], f"{rel}, {how}, with its default arguments"))
