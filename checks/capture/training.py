"""`alexnet-audit audit <folder> --train [CMD]`: the folder's audit with its training recipe measured.

The repository's training command (given, or found by `target.entrypoint`: its README's command,
else its one training script, else its one notebook) runs under capture from the repository's
root, as a user following the README would run it, with the same writes kept out of the tree and
synthetic stand-ins for data that is not on disk. The report is the captured run's: the model
the command builds (the one it trains) with the recipe it ran, so every recipe item is measured;
the notes say which command ran and where it came from. When the command builds no model (it
fails first), the folder is audited as without `--train`, and a run note says why the recipe
items are not measured.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from . import DEFAULT_STEPS, Captured, run_capture


def training_command(ref: str, given: str) -> tuple[list[str], str, Path]:
    """The command to run, where it came from, and the folder to run it from (the repository's root)."""
    from ..target.entrypoint import find_training_command
    from ..target.refs import is_notebook_ref, split_pick

    if split_pick(ref) is not None:
        raise UsageError(f"'{ref}': --train audits the model the training command builds; `::Name` chooses among "
                         "the folder's definitions only, so give the folder alone.")
    path = Path(ref).expanduser()
    notebook = path.is_file() and is_notebook_ref(path.name)
    if not (path.is_dir() or notebook):
        raise UsageError(f"'{ref}': --train needs a folder or a notebook target (the repository whose training "
                         "command runs).")
    root = (path.parent if notebook else path).resolve()
    if given.strip():
        try:
            return shlex.split(given), "given with --train", root
        except ValueError as exc:
            raise UsageError(f"--train {given!r}: not a command line ({exc}).") from None
    if notebook:
        return [path.name], "the notebook, run top to bottom", root
    search = find_training_command(root)
    if search.found is None:
        seen = f" (several candidates: {', '.join(search.ambiguous)})" if search.ambiguous else ""
        raise UsageError(f"--train: {path.name} shows no training command: no README code runs one of its scripts, "
                         f"and there is no single train*.py or main.py{seen}; give it: --train \"python train.py "
                         "...\".")
    return search.found.argv, search.found.source, root


def audit_with_training(ref: str, given: str, *, out: Path, spec_path: Path | None, fail_on: str, waivers: Any,
                        require_explained: bool, timeout: float, formats: Sequence[str], name: str,
                        steps: int = DEFAULT_STEPS) -> Captured:
    """Capture the training command of the folder or notebook `ref` and audit it (module docstring)."""
    argv, source, root = training_command(ref, given)
    note = (f"Recipe from the training command `{shlex.join(argv)}` ({source}), run under capture from "
            f"{root.name}/ for {steps} optimizer steps (audit --train).")
    return run_capture(argv, out=out, steps=steps, timeout=timeout, spec_path=spec_path, fail_on=fail_on, name=name,
                       cwd=root, notes=[note], fallback=ref, waivers=waivers, require_explained=require_explained,
                       formats=formats)
