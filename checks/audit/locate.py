"""Where each finding points in the target's source: `locate(findings, ...)` sets `Finding.location`.

What a finding is about, read from its item and its measurement:
- a model item: the traced ops it measured, narrowed to the ones that differ from the paper when it
  deviates (the layer the item names, the LRNs / pools / dropouts / activations it read, the keys of
  a per-layer value that differ, the positions of a sequence that differ). An op computed by a module
  with no submodules (`nn.LocalResponseNorm`, a hand-written layer) points where that module was
  constructed; an op computed in a `forward` (functional code) points at the line that computes it;
- init items: the line that last wrote each offending layer's weights or biases while the model was
  built (the init code, or the layer's construction under torch's default init);
- recipe items: the code line a captured manifest names, else the line that constructed the
  optimizer or scheduler, else the manifest line that declares the key, else the definition of a
  user-written factory;
- a derived finding (`caused_by`): where its cause points (one defect, one place).

A skip points nowhere. Locations are repository-relative (`sites.Site.location`).
"""
from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.findings import Finding, Location, Status
from ..judge.verdict import differences
from ..spec.load import Item, Spec
from ..trace.kinds import ACTIVATIONS, POOLS
from .manifest_sites import ManifestSites, manifest_sites
from .recording import BuildRecorder, call_sites
from .sites import Site, definition_site

_TRANSFORM = ("train_transform",)
RECIPE_KEYS: dict[str, tuple[str, ...]] = {
    "loss": ("loss",), "optimizer_kind": ("optimizer",), "optimizer_hparam": ("optimizer",),
    "update_rule": ("optimizer",), "lr_schedule": ("scheduler",), "extra_techniques": ("techniques",),
    "data_resize": _TRANSFORM, "mean_subtraction": _TRANSFORM, "random_crop": _TRANSFORM, "hflip": _TRANSFORM,
    "pca_lighting": _TRANSFORM, "extra_augmentation": _TRANSFORM, "ten_crop": ("eval_transform",),
}
KINDS: dict[str, frozenset[str]] = {
    "lrn_params": frozenset({"lrn"}), "lrn_placement": frozenset({"lrn"}), "pool_attr": POOLS,
    "pool_placement": POOLS, "dropout_rate": frozenset({"dropout"}), "dropout_placement": frozenset({"dropout"}),
    "dropout_eval": frozenset({"dropout"}), "activation": ACTIVATIONS, "relu_placement": ACTIVATIONS,
}
INIT = {"init_weights": "weights", "init_biases": "biases"}
_OFF = (Status.DEVIATION, Status.VARIANT)


class Locator:
    """The audit's trace, module names, call sites and manifest, read once for every finding."""

    def __init__(self, ctx: Any, recorder: BuildRecorder) -> None:
        self.ctx, self.rec = ctx, recorder

    @functools.cached_property
    def trace(self) -> Any:
        from ..trace import get_trace

        try:
            return get_trace(self.ctx)
        except (Exception, SystemExit):
            return None

    @functools.cached_property
    def model(self) -> Any:
        from ..trace.dispatch import unwrap

        try:
            return unwrap(self.ctx.model)
        except (Exception, SystemExit):
            return None

    @functools.cached_property
    def modules(self) -> dict[str, Any]:
        return dict(self.model.named_modules()) if self.model is not None else {}

    @functools.cached_property
    def named(self) -> tuple[dict[str, Site], dict[str, Site]]:
        """Construction sites by module name, value sites by parameter name (`BuildRecorder`)."""
        if self.model is None:
            return {}, {}
        return self.rec.named_sites(self.model)

    @functools.cached_property
    def param_names(self) -> dict[int, str]:
        return {id(p): n for n, p in self.model.named_parameters()} if self.model is not None else {}

    @functools.cached_property
    def calls(self) -> dict[int, tuple[str, Site | None]]:
        try:
            return call_sites(self.model, tuple(self.ctx.target.input_size), seed=self.ctx.seed)
        except (Exception, SystemExit):
            return {}

    @functools.cached_property
    def manifest(self) -> ManifestSites | None:
        return manifest_sites(str(self.ctx.target.source))

    # ---------------------------------------------------------------- sites of things -------

    def module_site(self, path: str) -> Site | None:
        mod = self.modules.get(path)
        return self.named[0].get(path) or (definition_site(type(mod)) if mod is not None else None)

    def call_site(self, recs: Iterable[Any]) -> Site | None:
        for r in recs:
            name, site = self.calls.get(r.i, ("", None))
            if site is not None and name == r.name:
                return site
        return None

    def op_sites(self, i: int) -> list[Site]:
        """Where op `i` is computed: a leaf module's construction, else the line in forward."""
        op = self.trace.ops[i]
        det = self.trace.details[i] if i < len(self.trace.details) else None
        if op.parts and det is not None and len(det.members) == len(op.parts):
            groups = [(p, m.recs) for p, m in zip(op.parts, det.members, strict=True)]
        else:
            groups = [(p, det.recs if det is not None else []) for p in op.module_path.split("+")]
        out: list[Site] = []
        for path, recs in groups:
            mod = self.modules.get(path) if path else None
            site = None
            if mod is not None and not any(True for _ in mod.children()):
                site = self.module_site(path)
            site = site or self.call_site(recs) or (self.module_site(path) if mod is not None else None)
            if site is not None:
                out.append(site)
        return out

    def init_sites(self, i: int, part: str) -> list[Site]:
        det = self.trace.details[i] if i < len(self.trace.details) else None
        tensors = list(getattr(det, part, None) or []) if det is not None else []
        names = [self.param_names.get(id(t), "") for t in tensors]
        sites = [s for s in (self.named[1].get(n) for n in names if n) if s is not None]
        return sites or self.op_sites(i)

    def recipe_sites(self, keys: Iterable[str]) -> list[Site]:
        out: list[Site] = []
        for key in keys:
            m = self.manifest
            site = (m.captured.get(key) if m else None) or self.rec.recipe_sites.get(key) or \
                (m.declared.get(key) if m else None) or definition_site(self.ctx.target.recipe.get(key))
            if site is not None:
                out.append(site)
        return out

    def target_site(self) -> Site | None:
        """Where the audited model is defined: its class, else where it was built, else the manifest."""
        site = None
        if self.model is not None:
            site = definition_site(type(self.model), installed=True) or self.named[0].get("")
        return site or (self.manifest.declared.get("model") if self.manifest else None)

    # ---------------------------------------------------------------- what a finding is about ---

    def sites(self, f: Finding, item: Item) -> list[Site]:
        if item.probe in RECIPE_KEYS or item.probe == "recipe_value":
            keys = RECIPE_KEYS.get(item.probe) or (str(item.params.get("key", "")),)
            return self.recipe_sites(keys)
        if self.trace is None:
            return []
        ops = self.ops_for(f, item)
        part = INIT.get(item.probe)
        return [s for i in ops for s in (self.init_sites(i, part) if part else self.op_sites(i))]

    def ops_for(self, f: Finding, item: Item) -> list[int]:
        tr = self.trace
        labels = {lab: i for i, lab in enumerate(tr.labels())}
        layer = item.params.get("layer") or ("conv1" if item.probe == "input_size" else None)
        if layer:
            return [labels[layer]] if layer in labels else []
        kinds = KINDS.get(item.probe, frozenset())
        if item.probe == "layer_sequence":
            return self.sequence_ops(f)
        keys = offending_keys(f, item)
        if keys is not None:
            return [i for k in keys for i in self.key_ops(k, kinds, labels)]
        found = self.candidates(kinds, f.where) if kinds else []
        if item.probe == "dropout_placement" and f.status in _OFF and isinstance(f.observed, list) \
                and isinstance(f.expected, list):
            wrong = [n for n, o in enumerate(f.observed)
                     if n >= len(f.expected) or differences(f.expected[n], o, item.tolerance)]
            return [found[n] for n in wrong if n < len(found)] or found
        return found

    def candidates(self, kinds: frozenset[str], where: str) -> list[int]:
        """The ops of these kinds that the finding's `where` names (its probe read them)."""
        tokens = {t.strip() for t in where.split(",") if t.strip()}
        ops = [i for i, op in enumerate(self.trace.ops) if op.kind in kinds]
        named = [i for i in ops if self.trace.where(i) in tokens]
        return named or ops

    def key_ops(self, key: str, kinds: frozenset[str], labels: dict[str, int]) -> list[int]:
        """The ops a key of a per-layer value stands for: a labelled op (lrn1, pool2, fc6), or in a
        block named by its weight layer the ops of the item's kinds, else that layer itself."""
        tr = self.trace
        if kinds and key in tr.layers():
            inside = [i for i, op in enumerate(tr.ops) if op.kind in kinds and tr.block_of(i) == key]
            return inside or [labels[key]]
        return [labels[key]] if key in labels else []

    def sequence_ops(self, f: Finding) -> list[int]:
        """The executed stages a deviating layer sequence has that the paper's has not."""
        from ..probes.arch import visible

        if f.status not in _OFF or not isinstance(f.observed, list) or not isinstance(f.expected, list):
            return []
        shown = visible(self.trace)
        matcher = difflib.SequenceMatcher(a=[str(x) for x in f.expected], b=[str(x) for x in f.observed],
                                          autojunk=False)
        out = [j for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("insert", "replace")
               for j in range(j1, j2)]
        return [shown[j] for j in out if j < len(shown)]


def offending_keys(f: Finding, item: Item) -> list[str] | None:
    """For a per-layer value (a mapping, or pool.placement's list of blocks): the keys that differ
    from the paper when the finding deviates, else every key; None for any other value."""
    obs, exp = f.observed, f.expected
    if item.probe == "pool_placement" and isinstance(obs, list) and isinstance(exp, list):
        if f.status in _OFF:
            return [str(k) for k in [*obs, *exp] if (k in obs) != (k in exp)] or [str(k) for k in obs]
        return [str(k) for k in obs]
    if not isinstance(obs, dict) and not isinstance(exp, dict):
        return None
    got = obs if isinstance(obs, dict) else {}
    want = exp if isinstance(exp, dict) else None
    keys = [str(k) for k in dict.fromkeys([*got, *(want or {})])]
    if f.status in _OFF:
        wrong = [k for k in keys if k not in got or (want is not None and k not in want)
                 or differences(want[k] if want is not None else exp, got[k], item.tolerance)]
        if wrong:
            return wrong
    return [str(k) for k in got] or keys


def _unique(locations: Iterable[Location | None]) -> list[Location]:
    return [loc for loc in dict.fromkeys(locations) if loc is not None]


def locate(findings: list[Finding], ctx: Any, spec: Spec, recorder: BuildRecorder,
           base: Path | str | None) -> Location | None:
    """Set `location` on every finding that has one; the target's own location (its model's
    definition), or None."""
    loc = Locator(ctx, recorder)
    items = {it.id: it for it in spec.items}
    for f in findings:
        item = items.get(f.id)
        if item is None or f.status == Status.SKIP:
            continue
        try:
            f.location = _unique(s.location(base) for s in loc.sites(f, item))
        except Exception:  # a location is a courtesy: never a reason for an audit to fail
            f.location = []
    by_id = {f.id: f for f in findings}
    for f in findings:
        causes = [loc for c in f.caused_by or [] if c in by_id for loc in by_id[c].location]
        if causes:
            f.location = _unique(causes)
    try:
        site = loc.target_site()
    except Exception:
        return None
    return site.location(base) if site is not None else None
