"""Cascades are named, not counted: derived findings say which primary deviation explains them.

Pure: no torch, no I/O. Some items are arithmetic consequences of others: parameter counts follow
from the layers' channels, kernels and groups; neuron counts from channels and map sizes; map sizes
from strides, kernels, the conv1 input and the pooling; conv1's output size from its stride and
kernel. When such a derived item deviates and the observed primaries account for every layer where
it differs, it gets `caused_by` (the root primary deviations) and the fidelity score counts the
defect once (README, "Statuses, severities and the fidelity score"). A derived deviation that the
primaries do not account for (a missing bias, a padding no item checks) keeps no cause and counts.
"""
from __future__ import annotations

from typing import Any

from ..core.findings import Finding, Status
from ..spec.load import Spec

CONVS = ("conv1", "conv2", "conv3", "conv4", "conv5")
FCS = ("fc6", "fc7", "fc8")


class _View:
    """Observed values and statuses of the findings, by id."""

    def __init__(self, findings: list[Finding]) -> None:
        self.by = {f.id: f for f in findings}

    def dev(self, i: str) -> bool:
        f = self.by.get(i)
        return f is not None and f.status is Status.DEVIATION

    def obs(self, i: str) -> Any:
        f = self.by.get(i)
        return f.observed if f is not None and f.status in (Status.PASS, Status.VARIANT, Status.DEVIATION) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _differing(expected: Any, observed: Any) -> list[str] | None:
    """Keys of a mapping whose values differ; None when the key sets differ or it is no mapping."""
    if not isinstance(expected, dict) or not isinstance(observed, dict) or set(expected) != set(observed):
        return None
    return [k for k in expected if expected[k] != observed[k]]


def _fc_in(v: _View) -> tuple[int | None, list[str]]:
    """fc6's input width from conv5's channels and the last map size, and the items behind it."""
    maps, ch = v.obs("arch.feature_maps"), _int(v.obs("arch.conv5.out_channels"))
    if not isinstance(maps, dict) or not maps or ch is None:
        return None, []
    side = _int(list(maps.values())[-1])
    return (ch * side * side if side is not None else None), ["arch.conv5.out_channels", "arch.feature_maps"]


def _layer_params(v: _View, name: str, count_classes: int | None) -> tuple[int | None, list[str]]:
    """A layer's weight+bias count implied by the observed primaries, and those primaries' ids."""
    if name in CONVS:
        n = CONVS.index(name)
        ids = [f"arch.{name}.out_channels", f"arch.{name}.kernel_size", f"arch.{name}.groups"]
        cin = 3 if n == 0 else _int(v.obs(f"arch.{CONVS[n - 1]}.out_channels"))
        if n:
            ids.append(f"arch.{CONVS[n - 1]}.out_channels")
        cout, k, g = (_int(v.obs(i)) for i in ids[:3])
        if None in (cin, cout, k, g) or not g or cin % g:  # type: ignore[operator]
            return None, ids
        return cout * (cin // g) * k * k + cout, ids  # type: ignore[operator]
    if name == "fc6":
        fin, ids = _fc_in(v)
        out = _int(v.obs("arch.fc6.out_features"))
        return (out * fin + out if fin is not None and out is not None else None), ["arch.fc6.out_features", *ids]
    if name == "fc7":
        fin, out = _int(v.obs("arch.fc6.out_features")), _int(v.obs("arch.fc7.out_features"))
        return (out * fin + out if fin and out else None), ["arch.fc7.out_features", "arch.fc6.out_features"]
    if name == "fc8":
        fin = _int(v.obs("arch.fc7.out_features"))
        return (count_classes * fin + count_classes if fin and count_classes else None), ["arch.fc7.out_features"]
    return None, []


def _layer_neurons(v: _View, name: str, count_classes: int | None) -> tuple[int | None, list[str]]:
    if name in CONVS:
        ch, maps = _int(v.obs(f"arch.{name}.out_channels")), v.obs("arch.feature_maps")
        side = _int(maps.get(name)) if isinstance(maps, dict) else None
        ids = [f"arch.{name}.out_channels", "arch.feature_maps"]
        return (ch * side * side if ch is not None and side is not None else None), ids
    if name == "fc8":
        return count_classes, []
    if name in FCS:
        return _int(v.obs(f"arch.{name}.out_features")), [f"arch.{name}.out_features"]
    return None, []


def _per_layer(v: _View, f: Finding, implied: Any, count_classes: int | None,
               readings: list[Any]) -> list[str] | None:
    """Causes of a per-layer count: every differing layer's count equals what the primaries imply,
    and some primary behind each differing layer deviates (a layer that matches an accepted
    reading needs none). None when not explained."""
    keys = _differing(f.expected, f.observed)
    if not keys:
        return None
    keys = [k for k in keys if not any(isinstance(r, dict) and r.get(k) == f.observed[k] for r in readings)]
    causes: list[str] = []
    for k in keys:
        value, ids = implied(v, k, count_classes)
        devs = [i for i in ids if v.dev(i)]
        if value is None or value != f.observed[k] or not devs:
            return None
        causes.extend(devs)
    return causes


_MAP_CAUSES = {  # the items that set a map's size, given the map before it
    "conv1": ("arch.input_size", "arch.conv1.stride", "arch.conv1.kernel_size"),
    **{c: (f"arch.{c}.stride", f"arch.{c}.kernel_size") for c in CONVS[1:]},
}
_POOL_CAUSES = ("pool.stride", "pool.kernel_size", "pool.type", "pool.placement")


def _feature_maps(v: _View, f: Finding) -> list[str] | None:
    if not isinstance(f.observed, dict) or not isinstance(f.expected, dict):
        return None
    keys = [k for k in f.expected if k in f.observed and f.expected[k] != f.observed[k]]
    causes: list[str] = []
    if set(f.observed) != set(f.expected):  # a pooling in another place: pool.placement says so, and the
        if not v.dev("pool.placement"):     # sizes after it follow; earlier sizes may have their own cause
            return None
        causes.append("pool.placement")
    for n, k in enumerate(keys):
        devs = [i for i in _MAP_CAUSES.get(k, _POOL_CAUSES) if v.dev(i)]
        if n == 0 and not devs and not causes:
            return None  # the first map that differs must be explained; later ones follow from it
        causes.extend(devs)
    return list(dict.fromkeys(causes)) or None


def _input_size(v: _View, f: Finding) -> list[str] | None:
    """conv1's output size moved by a deviating conv1 stride or kernel (the input itself is right)."""
    exp, obs = f.expected, f.observed
    if not isinstance(exp, dict) or not isinstance(obs, dict) or exp.get("input") != obs.get("input"):
        return None
    devs = [i for i in ("arch.conv1.stride", "arch.conv1.kernel_size") if v.dev(i)]
    return devs or None


def _params_total(v: _View, f: Finding) -> list[str] | None:
    per = v.by.get("arch.params_per_layer")
    if per is None or not isinstance(per.observed, dict) or _int(f.observed) is None:
        return None
    if per.status is Status.DEVIATION:
        if per.caused_by and sum(int(x) for x in per.observed.values()) == f.observed:
            return list(per.caused_by)
        return None
    # the layers match a reading: the difference is parameters outside conv/fc, e.g. batch norm
    extra = int(f.observed) - sum(int(x) for x in per.observed.values())
    return ["arch.layer_sequence"] if extra > 0 and v.dev("arch.layer_sequence") else None


def _roots(i: str, by: dict[str, Finding], seen: frozenset[str] = frozenset()) -> list[str]:
    f = by.get(i)
    if f is None or not f.caused_by or i in seen:
        return [i]
    out: list[str] = []
    for c in f.caused_by:
        out.extend(_roots(c, by, seen | {i}))
    return out


def link_causes(findings: list[Finding], spec: Spec) -> None:
    """Set `caused_by` on every derived deviation that primary deviations explain (in place)."""
    v = _View(findings)

    def count(item_id: str) -> int | None:
        try:
            return _int(spec.item(item_id).params.get("count_classes"))
        except KeyError:
            return None

    def readings(item_id: str) -> list[Any]:
        try:
            return [var.value for var in spec.item(item_id).variants]
        except KeyError:
            return []

    rules = [  # in dependency order: a derived item may rest on an earlier one
        ("arch.input_size", lambda f: _input_size(v, f)),
        ("arch.feature_maps", lambda f: _feature_maps(v, f)),
        ("arch.params_per_layer", lambda f: _per_layer(v, f, _layer_params, count("arch.params_per_layer"),
                                                                readings("arch.params_per_layer"))),
        ("arch.params_total", lambda f: _params_total(v, f)),
        ("arch.neurons", lambda f: _per_layer(v, f, _layer_neurons, count("arch.neurons"),
                                                          readings("arch.neurons"))),
    ]
    for item_id, rule in rules:
        f = v.by.get(item_id)
        if f is None or f.status is not Status.DEVIATION:
            continue
        causes = rule(f)
        if causes:
            roots = [r for c in causes for r in _roots(c, v.by) if r != item_id]
            f.caused_by = list(dict.fromkeys(roots)) or None


def explained(finding: dict[str, Any]) -> bool:
    """Whether a report finding is a derived deviation whose cause is counted elsewhere."""
    return finding.get("status") == "deviation" and bool(finding.get("caused_by"))

