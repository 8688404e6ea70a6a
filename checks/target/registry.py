"""The registered target names: ours, and those installed packages add (entry-point group
`alexnet_audit.targets`). Metadata only: nothing is imported, so `refs` may ask too.
"""
from __future__ import annotations

ENTRY_POINT_GROUP = "alexnet_audit.targets"

# Our own targets, also registered in pyproject.toml under the same group. Kept here too so that
# a source checkout that was never `pip install`-ed still knows them; an installed entry point of
# the same name wins.
BUILTIN_TARGETS: dict[str, str] = {
    "reference": "alexnet_audit.target.bundled.builtin:reference",
    "torchvision": "alexnet_audit.target.bundled.builtin:torchvision_alexnet",
    "seed-000": "alexnet_audit.target.bundled.seeds:seed_000",
    "seed-001": "alexnet_audit.target.bundled.seeds:seed_001",
    "seed-002": "alexnet_audit.target.bundled.seeds:seed_002",
    "seed-003": "alexnet_audit.target.bundled.seeds:seed_003",
    "seed-004": "alexnet_audit.target.bundled.seeds:seed_004",
}


def registered_targets() -> dict[str, str]:
    """name -> 'module:attr' for every registered target, built-ins first, then sorted by name."""
    found: dict[str, str] = dict(BUILTIN_TARGETS)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found[ep.name] = ep.value
    except Exception:  # a broken distribution's metadata must not break `list targets`
        pass
    builtin = [n for n in BUILTIN_TARGETS]
    others = sorted(n for n in found if n not in BUILTIN_TARGETS)
    return {n: found[n] for n in builtin + others}
