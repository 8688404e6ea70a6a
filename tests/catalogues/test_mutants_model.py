"""Every model mutant: exactly its listed ids deviate among the model groups, its listed variants are
`variant`, nothing errors; a bare model without recipe never deviates on train/data/eval items."""
from __future__ import annotations

import pytest

from alexnet_audit.audit.verify import verify
from alexnet_audit.core.findings import Status
from alexnet_audit.probes import all_probes
from alexnet_audit.spec.load import load_spec
from alexnet_audit.target.record import from_object
from tests.catalogues.mutants.model import MUTANTS, make

MODEL_GROUPS = ("architecture", "normalisation", "pooling", "dropout", "init")
RECIPE_GROUPS = ("training", "data", "evaluation")


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module", autouse=True)
def _no_layer_table():
    """The report's per-layer table (optional evidence, tested in test_layers) costs a forward pass per
    mutant and is not judged here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("alexnet_audit.probes.layers.layer_table", lambda ctx: [])
        yield


def _model_ids(spec):
    return [it.id for it in spec.items if it.group in MODEL_GROUPS]


def test_catalogue_is_well_formed(spec):
    ids = set(spec.ids)
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))
    for m in MUTANTS:
        assert m.doc and "\n" not in m.doc
        assert m.deviates <= ids, m.deviates - ids
        assert m.variants <= ids, m.variants - ids
        assert not (m.deviates & m.variants)
        assert m.caused <= m.deviates and (not m.caused or m.deviates - m.caused), m.name


def test_every_owned_probe_is_caught_by_some_mutant(spec):
    owned = {it.probe for it in spec.items if it.group in MODEL_GROUPS}
    caught = {spec.item(i).probe for m in MUTANTS for i in m.deviates}
    assert owned - caught == set()


def test_every_model_item_that_can_deviate_has_a_mutant(spec):
    caught = {i for m in MUTANTS for i in m.deviates}
    missing = [i for i in _model_ids(spec) if i not in caught]
    assert missing == []


@pytest.mark.slow  # the catalogue: about a second per mutant
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant(mutant, spec):
    target = from_object(mutant.name, mutant.build(), f"tests.catalogues.mutants.model:{mutant.name}")
    report = verify(spec, target, only=_model_ids(spec))
    found = report.by_id()
    errors = {i: f.message for i, f in found.items() if f.status is Status.ERROR}
    assert errors == {}
    deviating = {i for i, f in found.items() if f.status is Status.DEVIATION}
    detail = {i: found[i].message for i in deviating ^ mutant.deviates if i in found}
    assert deviating == mutant.deviates, detail
    # one defect, one deviation: derived items name a primary deviation of this mutant, others name none
    caused = {i: found[i].caused_by for i in deviating if found[i].caused_by}
    assert set(caused) == mutant.caused, caused
    primary = mutant.deviates - mutant.caused
    assert all(set(c) <= primary for c in caused.values()), caused
    variants = {i for i, f in found.items() if f.status is Status.VARIANT}
    assert variants == mutant.variants, {i: found[i].message for i in variants ^ mutant.variants}


def test_bare_model_never_deviates_on_recipe_items(spec):
    probes = all_probes()
    items = [it for it in spec.items if it.group in RECIPE_GROUPS and it.probe in probes]
    if not items:
        pytest.skip("no recipe probes registered yet")
    target = from_object("bare", make, "tests.catalogues.mutants.model:make")
    report = verify(spec, target, only=[it.id for it in items])
    bad = {f.id: (f.status.value, f.message) for f in report.findings if f.status is not Status.SKIP}
    assert bad == {}
