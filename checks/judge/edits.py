"""The layer sequence as edits a person can act on, each attributed to the item that reports it.

Pure: no torch, no I/O. One defect must read as one deviation (README, "Statuses, severities and
the fidelity score"): a missing LRN is `lrn.placement`'s finding, average pooling is `pool.type`'s,
torchvision's dropout order is `dropout.placement`'s. `arch.layer_sequence` keeps what no other
item reports (batch normalisation, a softmax in forward, an extra conv or linear layer, an extra
activation where the paper already has one) and names the items that report the rest.

Which item reports which kind of edit is the spec's `params.covered_by` of the sequence item:
`replace` (a stage of the same role but another kind, e.g. tanh for ReLU), `missing` and `extra`,
each mapping a role (weight, activation, pool, lrn, dropout, ...) to an item id; "{token}" in an id
is the stage's own name (a missing conv5 is reported by arch.conv5's items).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

_WEIGHT = re.compile(r"^(conv|fc)\d+$")

# How a stage reads in a message (the trace's kind names otherwise).
_NAMES = {
    "relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "LeakyReLU", "tanh": "tanh", "sigmoid": "sigmoid",
    "gelu": "GELU", "silu": "SiLU", "elu": "ELU", "selu": "SELU", "softplus": "softplus",
    "elementwise": "unrecognised elementwise function", "lrn": "response normalisation",
    "maxpool": "max-pooling", "avgpool": "average pooling", "adaptive_avgpool": "adaptive average pooling",
    "adaptive_maxpool": "adaptive max-pooling", "pool": "pooling", "dropout": "dropout",
    "batchnorm": "batch normalisation", "norm": "layer/group/instance normalisation", "softmax": "softmax",
    "log_softmax": "log_softmax", "pad": "zero padding", "scale": "constant scaling", "other": "unrecognised op",
}


def name(token: str) -> str:
    return _NAMES.get(token, token)


@dataclass(frozen=True)
class Edit:
    what: str  # "batch normalisation", "no response normalisation", "extra softmax"
    where: str  # "after conv1's ReLU"
    by: str | None  # the item that reports it, or None: the sequence's own finding
    tail: str = ""  # ", where the paper has response normalisation"

    @property
    def text(self) -> str:
        return f"{self.what} {self.where}{self.tail}"


def _role(token: str, roles: dict[str, str]) -> str:
    if _WEIGHT.match(token):
        return "weight"
    return roles.get(token, token)


def _position(seq: list[str], j: int, roles: dict[str, str]) -> str:
    """Where index j of seq sits, in words: 'after conv1', "after conv1's ReLU", 'at the start'."""
    if j <= 0:
        return "at the start"
    prev = seq[j - 1]
    if _role(prev, roles) == "weight":
        return f"after {prev}"
    block = next((t for t in reversed(seq[:j]) if _role(t, roles) == "weight"), None)
    return f"after {block}'s {name(prev)}" if block else f"after the input's {name(prev)}"


def _block_has(seq: list[str], block: str | None, role: str, roles: dict[str, str]) -> bool:
    """Whether the paper's sequence has a stage of `role` between `block` and the next weight layer."""
    if block is None or block not in seq:
        return False
    for t in seq[seq.index(block) + 1:]:
        r = _role(t, roles)
        if r == "weight":
            return False
        if r == role:
            return True
    return False


def edits(expected: list[str], observed: list[str], roles: dict[str, str],
          covered_by: dict[str, dict[str, str]]) -> list[Edit]:
    """Every difference between the sequences, in order, with the item that reports it (if any)."""
    # roles: the observed stages' measured roles, plus the spec's for the paper's own stage names
    out: list[Edit] = []
    rep, miss, extra = (covered_by.get(k, {}) for k in ("replace", "missing", "extra"))
    ops = difflib.SequenceMatcher(a=expected, b=observed, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        gone, new = list(range(i1, i2)), list(range(j1, j2))
        for i in list(gone):  # a stage of the same role but another kind: "tanh instead of ReLU"
            r = _role(expected[i], roles)
            j = next((j for j in new if _role(observed[j], roles) == r), None)
            if j is None or r not in rep:
                continue
            gone.remove(i)
            new.remove(j)
            out.append(Edit(name(observed[j]), _position(observed, j, roles), rep[r],
                            f", where the paper has {name(expected[i])}"))
        for i in gone:
            r = _role(expected[i], roles)
            by = miss.get(r)
            out.append(Edit(f"no {name(expected[i])}", _position(expected, i, roles),
                            by.format(token=expected[i]) if by else None))
        for j in new:
            r = _role(observed[j], roles)
            by = extra.get(r)
            block = next((t for t in reversed(observed[:j]) if _role(t, roles) == "weight"), None)
            if r == "activation" and _block_has(expected, block, r, roles):
                by = None  # a second activation where the paper has one: no per-layer item sees it
            where = _position(observed, j, roles)
            instead = [expected[i] for i in gone]
            who = by.format(token=observed[j]) if by else None
            if instead and j == new[0]:
                out.append(Edit(name(observed[j]), where, who,
                                f", where the paper has {', '.join(name(t) for t in instead)}"))
            else:
                out.append(Edit(f"extra {name(observed[j])}", where, who))
    return out


def _grouped(edits: list[Edit]) -> list[str]:
    """One line per kind of edit: 'tanh after conv1, after conv2, where the paper has ReLU'."""
    groups: dict[tuple[str, str], list[str]] = {}
    for e in edits:
        groups.setdefault((e.what, e.tail), []).append(e.where)
    return [f"{what} {', '.join(wheres)}{tail}" for (what, tail), wheres in groups.items()]


def summarise(found: list[Edit]) -> tuple[list[str], dict[str, list[str]]]:
    """(the edits no other item reports, {item id: the edits it reports}), like edits grouped."""
    own = _grouped([e for e in found if e.by is None])
    others: dict[str, list[Edit]] = {}
    for e in found:
        if e.by is not None:
            others.setdefault(e.by, []).append(e)
    return own, {by: _grouped(es) for by, es in others.items()}


def covered_note(others: dict[str, list[str]]) -> str:
    return "; ".join(f"{by} reports {', '.join(texts)}" for by, texts in others.items())


def as_roles(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
