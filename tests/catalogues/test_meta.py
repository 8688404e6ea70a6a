"""Meta-tests: the spec, the probe registry and the mutant catalogue agree with each other.

Every spec item names a registered probe; every probe is used by the spec and is shown to catch
a mutant that breaks its item; every required id that can deviate has a mutant.
"""
from __future__ import annotations

import pytest

from alexnet_audit.probes import all_probes
from alexnet_audit.spec.load import load_spec
from tests.catalogues.mutants import all_mutants

# Probes whose items are paper context (hardware, results): they can only be `skip`, never deviate.
CONTEXT_ONLY = {"context"}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_every_item_names_a_registered_probe(spec) -> None:
    probes = all_probes()
    assert [it.id for it in spec.items if it.probe not in probes] == []


def test_every_probe_is_used_by_the_spec_and_documented(spec) -> None:
    used = {it.probe for it in spec.items}
    probes = all_probes()
    assert sorted(set(probes) - used) == []
    assert [name for name, fn in probes.items() if not (fn.__doc__ or "").strip()] == []


def test_every_probe_catches_a_mutant(spec) -> None:
    caught = {spec.item(i).probe for m in all_mutants() for i in m.deviates}
    assert sorted(set(all_probes()) - caught - CONTEXT_ONLY) == []


def test_every_id_that_can_deviate_has_a_mutant(spec) -> None:
    caught = {i for m in all_mutants() for i in m.deviates}
    can_deviate = [it.id for it in spec.items if it.probe not in CONTEXT_ONLY]
    assert [i for i in can_deviate if i not in caught] == []


def test_every_accepted_variant_has_a_mutant(spec) -> None:
    shown = {i for m in all_mutants() for i in m.variants}
    assert [it.id for it in spec.items if it.variants and it.id not in shown] == []


def test_a_mutants_named_probes_measure_its_expected_findings(spec) -> None:
    """`Mutant.probes` says which probes a mutant exercises: each must be the probe of one of its deviations
    or variants, or the claim is untested."""
    wrong = {m.name: sorted(m.probes - {spec.item(i).probe for i in m.deviates | m.variants})
             for m in all_mutants() if m.probes - {spec.item(i).probe for i in m.deviates | m.variants}}
    assert wrong == {}


def test_mutants_are_documented_uniquely_and_name_real_ids(spec) -> None:
    mutants = all_mutants()
    names = [m.name for m in mutants]
    assert len(names) == len(set(names))
    for m in mutants:
        assert m.doc.strip() and "\n" not in m.doc.strip(), m.name
        assert set(m.deviates) | set(m.variants) <= set(spec.ids), m.name


def test_static_probe_names_match_the_registry() -> None:
    """Spec validation reads probe names from source; they must be exactly what importing registers."""
    from alexnet_audit.probes import probe_names

    registered = set(all_probes())
    assert probe_names() == registered
