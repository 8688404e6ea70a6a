"""Importing the files of a folder target that hold candidates, stubbing what is not installed.

Each file is imported under the name its layout gives it (`layout.module_for`) and definitions-only
(`layout.DefinitionsLoader`); a notebook through `notebook.load_notebook`. When an import fails
because a module is not installed, that module is replaced by the stub module manifests use
(`manifest.stubs`) and the import is tried again, unless the module is one the audit itself runs
on (torch, torchvision, numpy, PIL, this package), belongs to the repository, or stubbing is off
(`ALEXNET_AUDIT_NO_STUB=1`, the CLI's `--no-stub`). Each stub is named, with the line that
imported it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import first_line
from .layout import ImportLog, inside, module_for, rel_entry
from .manifest.stubs import UNSTUBBABLE, install_stubs
from .notebook import Plan, load_notebook
from .scan import uses_relative_imports
from .sources import Unit

NO_STUB_ENV = "ALEXNET_AUDIT_NO_STUB"
REFUSED = {**UNSTUBBABLE, "numpy": "the audit's probes compute with numpy",
           "PIL": "the audit's transform probes feed PIL images"}
MAX_STUBS = 25


def stubbing_off() -> bool:
    return os.environ.get(NO_STUB_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Place:
    """Where one unit's code is imported from: its module ref (for `ref:attr`) and sys.path entry."""

    ref: str  # "models.alexnet" or, for a notebook, its path relative to the root ("nb.ipynb")
    entry: Path
    notebook: bool


def place_of(unit: Unit, root: Path) -> Place:
    if unit.notebook:
        return Place(unit.rel, unit.path.parent, True)
    name, entry = module_for(unit.path, root, uses_relative_imports(unit))
    return Place(name, entry, False)


def places_for(units: list[Unit], root: Path) -> dict[str, Place]:
    """rel path -> Place for each unit; two files that would both be a top-level `model` keep the first
    name, and the second is named from the root as a namespace package (`b.model`)."""
    out: dict[str, Place] = {}
    taken: dict[str, str] = {}
    for unit in units:
        if unit.rel in out:
            continue
        place = place_of(unit, root)
        if not place.notebook and taken.get(place.ref, unit.rel) != unit.rel:
            name, entry = module_for(unit.path, root, True)
            if name not in taken:
                place = Place(name, entry, False)
        taken.setdefault(place.ref, unit.rel)
        out[unit.rel] = place
    return out


@dataclass
class Imports:
    """The imported modules (by unit rel path), the failures, the stubs and the notebook plans."""

    root: Path
    provided: set[str]
    entries: list[Path] = field(default_factory=list)  # the sys.path entries the layout put first
    log: ImportLog = field(default_factory=ImportLog)  # what the definitions-only imports left out
    places: dict[str, Place] = field(default_factory=dict)  # unit rel path -> where it is imported from
    modules: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    stubbed: list[tuple[str, str]] = field(default_factory=list)  # (module, where it was imported)
    refused: list[str] = field(default_factory=list)
    plans: dict[str, Plan] = field(default_factory=dict)

    @property
    def stub_names(self) -> list[str]:
        return [name for name, _ in self.stubbed]

    def load(self, unit: Unit, place: Place) -> Any | None:
        """The unit's module (imported once), or None with the reason in `failures`."""
        if unit.rel in self.modules or unit.rel in self.failures:
            return self.modules.get(unit.rel)
        for _ in range(MAX_STUBS):
            try:
                if place.notebook:
                    module, self.plans[unit.rel] = load_notebook(unit.path)
                else:
                    module = importlib.import_module(place.ref)
            except ModuleNotFoundError as exc:
                if self._stub(exc, unit):
                    continue
                return None
            except (KeyboardInterrupt, MemoryError):
                raise
            except BaseException as exc:  # SyntaxError, a failing class body, SystemExit at import ...
                self.failures[unit.rel] = f"importing it failed: {first_line(exc)}"
                return None
            self.modules[unit.rel] = module
            return module
        self.failures[unit.rel] = f"importing it needed more than {MAX_STUBS} stub modules"
        return None

    def _stub(self, exc: ModuleNotFoundError, unit: Unit) -> bool:
        """Stub the missing module when allowed (True: try again); else record why not."""
        missing = (exc.name or "").split(".")[0]
        where = self._where(exc) or unit.where()
        if not missing:
            why = f"importing it failed: {first_line(exc)}"
        elif missing in self.provided:
            why = f"it imports '{exc.name}', which the repository holds but its layout does not reach ({where})"
        elif importlib.util.find_spec(missing) is not None:
            why = f"it imports '{exc.name}' ({where}), which its installed package '{missing}' does not have"
        elif missing in REFUSED:
            why = f"it imports '{exc.name}' ({where}), which is not installed and cannot be stubbed: {REFUSED[missing]}"
        elif stubbing_off():
            why = (f"it imports '{missing}' ({where}), which is not installed; stubbing is off ({NO_STUB_ENV}=1 / "
                   f"--no-stub): install it, or allow stubbing")
        else:
            install_stubs([missing])
            self.stubbed.append((missing, where))
            return True
        if missing in REFUSED and missing not in self.refused:
            self.refused.append(missing)
        self.failures[unit.rel] = why
        return False

    def _where(self, exc: BaseException) -> str:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            name = frame.filename.split("#cell")[0]
            if inside(name, self.root):
                cell = frame.filename.partition("#cell")[2]
                rel = rel_entry(Path(name), self.root)
                return f"{rel}{f' cell {cell}' if cell else ''} line {frame.lineno}"
        return ""
