"""The recipe mutant catalogue (tests/catalogues/mutants/recipe.py): each single recipe change gives exactly
its listed deviations and variants among the training, data, evaluation and context items, names
exactly its listed causes, and leaves every other item as the unmutated base has it; the base (the
paper's recipe with a real mean image) has every recipe item `pass`, bar the paper-context skips.

To keep the run short, all audits share one AlexNet instance (the recipe probes only read its
parameter list), and a mutant whose train transform is the base's (same repr and the same tensors,
i.e. the same steps with the same settings and the same mean image) reuses the base's measurements
of it; mutants that change the train transform are measured afresh.
"""
from __future__ import annotations

import hashlib
from typing import Any

import pytest
import torch

import alexnet_ref
from alexnet_audit.audit.verify import _one
from alexnet_audit.core.findings import Finding, Status
from alexnet_audit.judge.causes import link_causes
from alexnet_audit.probes import all_probes
from alexnet_audit.probes.context import Context
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object
from tests.catalogues.mutants.recipe import MUTANTS, base_recipe

SPEC = load_spec()
GROUPS = ("training", "data", "evaluation", "context")
IDS = [it.id for it in SPEC.items if it.group in GROUPS]
CONTEXT_IDS = {it.id for it in SPEC.items if it.group == "context"}  # paper context: always `skip`

DATA_CACHES = ("data.train_geometry", "data.draws", "data.hflip", "data.colour", "techniques.augmentation")


def fingerprint(transform: Any) -> str:
    """The transform's repr and a digest of every tensor it holds: a mean image's values do not show
    in its repr, and two transforms that differ only there must not share measurements."""
    digest = hashlib.sha256(repr(transform).encode())
    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> None:
        if depth > 6 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            digest.update(obj.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(obj, dict):
            for key in sorted(obj, key=str):
                walk(obj[key], depth + 1)
        elif isinstance(obj, list | tuple):
            for value in obj:
                walk(value, depth + 1)
        elif hasattr(obj, "__dict__"):  # transforms, modules (their buffers), wrappers
            walk(vars(obj), depth + 1)

    walk(transform, 0)
    return digest.hexdigest()


def audit(obj: Any, model: Any, shared: tuple[dict[str, Any], str] | None = None) -> dict[str, Finding]:
    """The recipe findings of a target (plain dict), causes linked as `verify` links them; with `shared`
    (the base's data caches and train-transform fingerprint) an unchanged train transform is not re-measured."""
    target = from_object("mutant", obj, "test")
    target.model = lambda: model
    ctx = Context(target, SPEC)
    if shared is not None and fingerprint(target.recipe.get("train_transform")) == shared[1]:
        for key, value in shared[0].items():
            ctx.cached(key, lambda v=value: v)
    probes = all_probes()
    findings = [_one(SPEC.item(i), ctx, probes) for i in IDS]
    link_causes(findings, SPEC)
    return {f.id: f for f in findings}


@pytest.fixture(scope="module")
def model() -> Any:
    return alexnet_ref.alexnet(1000)


@pytest.fixture(scope="module")
def base(model: Any) -> tuple[dict[str, Finding], tuple[dict[str, Any], str]]:
    """The unmutated base's findings, and its train-transform measurements with that transform's fingerprint."""
    target = from_object("base", base_recipe(), "test")
    target.model = lambda: model
    ctx = Context(target, SPEC)
    probes = all_probes()
    findings = [_one(SPEC.item(i), ctx, probes) for i in IDS]
    link_causes(findings, SPEC)
    caches = {k: ctx.cached(k, lambda: None) for k in DATA_CACHES}
    return {f.id: f for f in findings}, (caches, fingerprint(target.recipe["train_transform"]))


def expected_statuses(mutant: Any) -> dict[str, Status]:
    """Every recipe id's status the mutant must give: its deviations and variants, the base's elsewhere."""
    out = {i: Status.SKIP if i in CONTEXT_IDS else Status.PASS for i in IDS}
    out.update({i: Status.DEVIATION for i in mutant.deviates})
    out.update({i: Status.VARIANT for i in mutant.variants})
    out.update({i: Status.SKIP for i in mutant.skips})
    return out


def test_base_recipe_passes_every_item(base: Any) -> None:
    found = base[0]
    assert {i: f.status for i, f in found.items()} == {i: Status.SKIP if i in CONTEXT_IDS else Status.PASS
                                                       for i in IDS}, {i: f.message for i, f in found.items()}
    assert {i: f.caused_by for i, f in found.items() if f.caused_by} == {}


def test_alexnet_ref_placeholder_mean_is_the_per_channel_variant(model: Any, base: Any) -> None:
    """Why the base swaps the mean: alexnet_ref's default mean is the channel means spread over the image,
    which reads as the per-channel variant; the rest of alexnet_ref's recipe is the base's."""
    found = audit(alexnet_ref.recipe(), model)
    assert {i: f.status for i, f in found.items() if f.status is not base[0][i].status} == {
        "data.mean_subtraction": Status.VARIANT}
    assert found["data.mean_subtraction"].observed == "per_channel_mean"


@pytest.mark.slow  # the catalogue: one data/recipe audit per mutant
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_recipe_mutant(mutant: Any, model: Any, base: Any) -> None:
    found = audit(mutant.build(), model, base[1])
    errors = {i: f.message for i, f in found.items() if f.status is Status.ERROR}
    assert errors == {}
    deviating = {i for i, f in found.items() if f.status is Status.DEVIATION}
    assert deviating == set(mutant.deviates), {i: found[i].message for i in deviating ^ set(mutant.deviates)}
    variants = {i for i, f in found.items() if f.status is Status.VARIANT}
    assert variants == set(mutant.variants), {i: found[i].message for i in variants ^ set(mutant.variants)}
    assert {i: f.status for i, f in found.items()} == expected_statuses(mutant)
    # one change, one deviation: derived items name a primary deviation of this mutant, others name none
    caused = {i: found[i].caused_by for i in deviating if found[i].caused_by}
    assert set(caused) == set(mutant.caused), caused
    assert all(set(c) <= set(mutant.deviates) - set(mutant.caused) for c in caused.values()), caused


def test_catalogue_is_single_defect_and_named() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)) and all(n.startswith("recipe-") for n in names)
    assert all(m.deviates or m.variants for m in MUTANTS)
    assert all(set(m.deviates) | set(m.variants) <= set(IDS) for m in MUTANTS)
    assert all(not (set(m.deviates) & set(m.variants)) and not (set(m.skips) & (set(m.deviates) | set(m.variants)))
               for m in MUTANTS)
    assert all(set(m.caused) <= set(m.deviates) for m in MUTANTS)


def test_every_mutant_expects_something_the_unmutated_base_does_not_give(base: Any) -> None:
    """A mutant whose expected statuses are the base's mutates nothing the audit can see."""
    measured = {i: f.status for i, f in base[0].items()}
    same = [m.name for m in MUTANTS if expected_statuses(m) == measured]
    assert same == []
