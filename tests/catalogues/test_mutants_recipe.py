"""The recipe mutant catalogue (tests/catalogues/mutants/recipe.py): each single recipe defect makes exactly
its ids deviate among the training, data, evaluation and context items, and the reference
recipe itself has no deviation or error there.

To keep the run short, all audits share one AlexNet instance (the recipe probes only read its
parameter list), and a mutant whose train transform is the reference's (same repr, i.e. the same
steps with the same settings) reuses the reference's measurements of it; mutants that change the
train transform are measured afresh.
"""
from __future__ import annotations

from typing import Any

import pytest

import alexnet_ref
from alexnet_audit.audit.verify import _one
from alexnet_audit.core.findings import Status
from alexnet_audit.probes.context import Context
from alexnet_audit.target.record import from_object
from tests.catalogues.mutants.recipe import MUTANTS
from tests.probes.test_probes_recipe import SPEC, probes

GROUPS = ("training", "data", "evaluation", "context")
IDS = [it.id for it in SPEC.items if it.group in GROUPS]


DATA_CACHES = ("data.train_geometry", "data.draws", "data.hflip", "data.colour", "techniques.augmentation")


@pytest.fixture(scope="module")
def model() -> Any:
    return alexnet_ref.alexnet(1000)


@pytest.fixture(scope="module")
def reference(model: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The reference's findings, its train-transform measurements and that transform's repr."""
    target = from_object("reference", alexnet_ref.recipe(), "test")
    target.model = lambda: model
    ctx = Context(target, SPEC)
    found = {i: _one(SPEC.item(i), ctx, probes()) for i in IDS}
    caches = {k: ctx.cached(k, lambda: None) for k in DATA_CACHES}
    return found, caches, repr(target.recipe["train_transform"])


def _statuses(obj: Any, model: Any, reference: Any) -> dict[str, Any]:
    _, caches, train_repr = reference
    target = from_object("mutant", obj, "test")
    target.model = lambda: model
    ctx = Context(target, SPEC)
    if repr(target.recipe.get("train_transform")) == train_repr:
        for key, value in caches.items():
            ctx.cached(key, lambda v=value: v)
    return {i: _one(SPEC.item(i), ctx, probes()) for i in IDS}


def test_reference_recipe_has_no_deviation_or_error(reference: Any) -> None:
    found = reference[0]
    bad = {i: f.message for i, f in found.items() if f.status in (Status.DEVIATION, Status.ERROR)}
    assert bad == {}
    assert {i for i, f in found.items() if f.status == Status.SKIP} == {"info.hardware", "info.results"}


@pytest.mark.slow  # the catalogue: one data/recipe audit per mutant
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_recipe_mutant(mutant: Any, model: Any, reference: Any) -> None:
    found = _statuses(mutant.build(), model, reference)
    errors = {i: f.message for i, f in found.items() if f.status == Status.ERROR}
    assert errors == {}
    deviating = {i for i, f in found.items() if f.status == Status.DEVIATION}
    assert deviating == set(mutant.deviates), {i: found[i].message for i in deviating ^ set(mutant.deviates)}
    for i in mutant.variants:
        assert found[i].status == Status.VARIANT, (i, found[i].message)


def test_catalogue_is_single_defect_and_named() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)) and all(n.startswith("recipe-") for n in names)
    assert all(m.deviates or m.variants for m in MUTANTS)
    assert all(set(m.deviates) | set(m.variants) <= set(IDS) for m in MUTANTS)
