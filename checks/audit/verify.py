"""verify(spec, target) -> Report: one finding per spec item, always; a run never stops early."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.errors import first_line
from ..core.findings import Absent, Finding, Observation, Report, Skip
from ..judge.causes import link_causes
from ..judge.verdict import errored, judge, skipped
from ..probes import all_probes
from ..probes.context import Context
from ..spec.load import Item, Spec
from ..target.record import Target
from ..trace.rebuild import STRUCTURAL_GROUPS, explain, mark_unexplained
from .locate import locate
from .recording import BuildRecorder


def _one(item: Item, ctx: Context, probes: dict[str, Any]) -> Finding:
    if item.id in ctx.target.unstated:
        return skipped(item, f"not stated by the target's source: {ctx.target.unstated[item.id]}")
    fn = probes.get(item.probe)
    if fn is None:
        return errored(item, f"no probe named '{item.probe}' (alexnet-audit list probes).")
    try:
        obs = fn(ctx, item)
    except Skip as reason:
        return skipped(item, str(reason))
    except Absent as part:  # `scheduler: none`: the absence is what is judged
        obs = Observation("none", f"the target declares no {part} ({part}: none)")
    except (Exception, SystemExit) as exc:  # the probe or the target failed (a target's sys.exit included)
        return errored(item, f"{item.probe} probe failed: {first_line(exc)}")
    return judge(item, obs, {"num_classes": ctx.target.num_classes})


def _not_a_module(ctx: Context) -> bool:
    """The target's model is some other object (a plain-dict stand-in): there is no network to
    rebuild, so the rebuild check does not run (a model that fails to build still goes to it)."""
    from ..probes.context import NotAModule

    try:
        _ = ctx.model
    except NotAModule:
        return True
    except (Exception, SystemExit):
        return False
    return False


def verify(spec: Spec, target: Target, only: Iterable[str] | None = None, base: Path | str | None = None) -> Report:
    """Audit `target` against every item of `spec` (or the ids in `only`), in spec order.

    Every finding that has a source location carries it (`audit.locate`), relative to `base` (the
    directory the user ran from; default the current one) or to its package, never absolute.
    """
    wanted = set(only) if only is not None else None
    probes = all_probes()
    recorder = BuildRecorder()  # construction and call sites, recorded while the target builds and runs
    ctx = Context(replace(target, model=recorder.factory(target.model)), spec)
    with recorder.recipe():
        findings = [_one(item, ctx, probes) for item in spec.items if wanted is None or item.id in wanted]
    link_causes(findings, spec)  # derived deviations name the primary one (one defect, one deviation)
    extras: dict[str, Any] = ctx.cached("extras", dict)
    try:  # the per-layer table of the report (shapes, parameters, MACs); optional evidence
        from ..probes.layers import layer_table

        extras["layers"] = layer_table(ctx)
    except (Exception, SystemExit) as exc:
        extras["layers_error"] = first_line(exc)
    if (wanted is None or any(i.group in STRUCTURAL_GROUPS for i in spec.items if i.id in wanted)) \
            and not _not_a_module(ctx):
        exp = explain(ctx)  # the audit checks itself: the measurements rebuild the model, or say where not
        mark_unexplained(findings, exp, ctx, spec)
        extras["explained"] = exp.to_dict()
    described = target.describe()
    where = locate(findings, ctx, spec, recorder, base)
    if where is not None:
        described["location"] = where.to_dict()
    return Report(
        target=described,
        spec={"version": spec.version, "sha256": spec.sha256},
        findings=findings,
        extras=extras,
    )
