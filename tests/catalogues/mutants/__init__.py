"""The mutant catalogue: targets that each carry exactly one defect (or none, for the faithful
but unusual forms), with the spec ids that must deviate.

Each catalogue module defines `MUTANTS: list[Mutant]`; this package collects them.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mutant:
    name: str
    doc: str  # one line naming the defect
    build: Callable[[], Any]  # returns an nn.Module, a factory or a plain-dict target
    deviates: frozenset[str] = frozenset()  # ids that must be `deviation`; every other id must not be
    variants: frozenset[str] = frozenset()  # ids that must be `variant` (accepted-variant forms)
    probes: frozenset[str] = field(default_factory=frozenset)  # probes this mutant is meant to exercise
    # the ids among `deviates` that are derived (counts, sizes): each must name its cause in
    # `caused_by`, a primary deviation of this mutant; every other deviation must name none
    caused: frozenset[str] = frozenset()
    skips: frozenset[str] = frozenset()  # ids that must be `skip`: the change removes what they measure


_MODULES = ("tests.catalogues.mutants.model", "tests.catalogues.mutants.recipe")


def all_mutants() -> list[Mutant]:
    out: list[Mutant] = []
    for name in _MODULES:
        out.extend(importlib.import_module(name).MUTANTS)
    return out
