"""A synthetic corpus: N small repositories, each a `model.py` that writes the paper's AlexNet in one
of the styles real repositories use, with at most one of the single-defect mutations of the mutant
catalogue (tests/catalogues/mutants/model.py), and the deviations each one must show.

    .venv/bin/python benchmarks/corpus.py DIR N        writes DIR/repo-0000 ... and DIR/targets.txt

The expectations come from what the generator wrote (which style, which mutation), never from an
audit: `expected_status(target, item)` is `deviation` for the mutation's ids (and the counts it
changes), `variant` for an accepted variant's, `skip` for what a model-only target cannot show
(training recipe, data pipeline, evaluation, paper context) or the mutation removed (no LRN: no LRN
constants) and `pass` for every other item.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

STYLES = ("torchvision", "flat", "functional")
COUNTS = frozenset({"arch.params_total", "arch.params_per_layer"})
SKIPPED_GROUPS = ("training", "data", "evaluation", "context")  # a model-only target shows none of these


@dataclass(frozen=True)
class Mutation:
    """One defect (or none, or an accepted variant) and what the audit must say about it."""

    name: str
    params: dict[str, object] = field(default_factory=dict)
    deviates: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    skips: frozenset[str] = frozenset()  # what the change removes, so nothing is left to measure


PAPER = {"channels": (96, 256, 384, 384, 256), "groups": (1, 2, 1, 2, 2), "fc": (4096, 4096), "act": "relu",
         "lrn": (5, 5e-4, 0.75, 2.0), "pool": ("max", 3, 2), "dropout": 0.5, "init": "paper"}

MUTATIONS = (
    Mutation("faithful"),
    Mutation("lrn_k1", {"lrn": (5, 5e-4, 0.75, 1.0)}, frozenset({"lrn.k"})),
    Mutation("no_lrn", {"lrn": None}, frozenset({"lrn.placement"}),
             skips=frozenset({"lrn.size", "lrn.k", "lrn.alpha", "lrn.beta"})),
    Mutation("lrn_beta_half", {"lrn": (5, 5e-4, 0.5, 2.0)}, frozenset({"lrn.beta"})),
    Mutation("tanh", {"act": "tanh"}, frozenset({"arch.activation"})),
    Mutation("avg_pool", {"pool": ("avg", 3, 2)}, frozenset({"pool.type"})),
    Mutation("pool_2x2", {"pool": ("max", 2, 2)}, frozenset({"pool.kernel_size"})),
    Mutation("dropout_p03", {"dropout": 0.3}, frozenset({"dropout.p"})),
    Mutation("default_init", {"init": "default"}, frozenset({"init.weights", "init.biases"})),
    Mutation("conv1_64", {"channels": (64, 256, 384, 384, 256)},
             frozenset({"arch.conv1.out_channels", "arch.neurons", *COUNTS})),
    Mutation("fc7_2048", {"fc": (4096, 2048)}, frozenset({"arch.fc7.out_features", "arch.neurons", *COUNTS})),
    Mutation("alpha_over_n", {"lrn": (5, 1e-4, 0.75, 2.0)}, variants=frozenset({"lrn.alpha"})),
    Mutation("ungrouped", {"groups": (1, 1, 1, 1, 1)},
             variants=frozenset({"arch.conv2.groups", "arch.conv4.groups", "arch.conv5.groups", *COUNTS})),
)

_HEADER = '''"""{doc}"""
import torch
import torch.nn as nn
import torch.nn.functional as F

BIASES = (0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0)


def init_paper(layers):
    for layer, bias in zip(layers, BIASES):
        nn.init.normal_(layer.weight, 0.0, 0.01)
        nn.init.constant_(layer.bias, bias)

'''

_TORCHVISION = '''
class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        c = {channels!r}
        self.features = nn.Sequential(
            nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2, groups={groups[0]}),
            {act},{lrn1}
            {pool},
            nn.Conv2d(c[0], c[1], kernel_size=5, padding=2, groups={groups[1]}),
            {act},{lrn2}
            {pool},
            nn.Conv2d(c[1], c[2], kernel_size=3, padding=1, groups={groups[2]}),
            {act},
            nn.Conv2d(c[2], c[3], kernel_size=3, padding=1, groups={groups[3]}),
            {act},
            nn.Conv2d(c[3], c[4], kernel_size=3, padding=1, groups={groups[4]}),
            {act},
            {pool},
        )
        self.classifier = nn.Sequential(
            nn.Linear(c[4] * 6 * 6, {fc[0]}),
            {act},
            nn.Dropout(p={dropout}),
            nn.Linear({fc[0]}, {fc[1]}),
            {act},
            nn.Dropout(p={dropout}),
            nn.Linear({fc[1]}, num_classes),
        )
        {init}

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def build():
    return AlexNet()
'''

_FLAT = '''
def build():
    c = {channels!r}
    net = nn.Sequential(
        nn.Conv2d(3, c[0], 11, 4, 2, groups={groups[0]}), {act},{lrn1} {pool},
        nn.Conv2d(c[0], c[1], 5, 1, 2, groups={groups[1]}), {act},{lrn2} {pool},
        nn.Conv2d(c[1], c[2], 3, 1, 1, groups={groups[2]}), {act},
        nn.Conv2d(c[2], c[3], 3, 1, 1, groups={groups[3]}), {act},
        nn.Conv2d(c[3], c[4], 3, 1, 1, groups={groups[4]}), {act}, {pool},
        nn.Flatten(),
        nn.Linear(c[4] * 36, {fc[0]}), {act}, nn.Dropout({dropout}),
        nn.Linear({fc[0]}, {fc[1]}), {act}, nn.Dropout({dropout}),
        nn.Linear({fc[1]}, 1000),
    )
    {init}
    return net
'''

_FUNCTIONAL = '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        c = {channels!r}
        self.conv1 = nn.Conv2d(3, c[0], 11, stride=4, padding=2, groups={groups[0]})
        self.conv2 = nn.Conv2d(c[0], c[1], 5, padding=2, groups={groups[1]})
        self.conv3 = nn.Conv2d(c[1], c[2], 3, padding=1, groups={groups[2]})
        self.conv4 = nn.Conv2d(c[2], c[3], 3, padding=1, groups={groups[3]})
        self.conv5 = nn.Conv2d(c[3], c[4], 3, padding=1, groups={groups[4]})
        self.fc6 = nn.Linear(c[4] * 6 * 6, {fc[0]})
        self.fc7 = nn.Linear({fc[0]}, {fc[1]})
        self.fc8 = nn.Linear({fc[1]}, 1000)
        {init}

    def forward(self, x):
        x = {fpool}({flrn}({fact}(self.conv1(x))))
        x = {fpool}({flrn}({fact}(self.conv2(x))))
        x = {fact}(self.conv3(x))
        x = {fact}(self.conv4(x))
        x = {fpool}({fact}(self.conv5(x)))
        x = x.view(x.size(0), -1)
        x = F.dropout({fact}(self.fc6(x)), {dropout}, self.training)
        x = F.dropout({fact}(self.fc7(x)), {dropout}, self.training)
        return self.fc8(x)


def build():
    return Net()
'''

_INIT = {
    "torchvision": ("init_paper([m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])", ""),
    "flat": ("init_paper([m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))])", ""),
    "functional": ("init_paper([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5, self.fc6, self.fc7, "
                   "self.fc8])", ""),
}


def source(style: str, mutation: Mutation) -> str:
    """The model.py of one repository."""
    p = {**PAPER, **mutation.params}
    lrn = p["lrn"]
    kind, k, s = p["pool"]
    module_lrn = "" if lrn is None else " nn.LocalResponseNorm({}, alpha={}, beta={}, k={}),".format(*lrn)
    fields = {
        "channels": p["channels"], "groups": p["groups"], "fc": p["fc"], "dropout": p["dropout"],
        "act": "nn.ReLU(inplace=True)" if p["act"] == "relu" else "nn.Tanh()",
        "lrn1": module_lrn, "lrn2": module_lrn,
        "pool": f"nn.MaxPool2d({k}, {s})" if kind == "max" else f"nn.AvgPool2d({k}, {s})",
        "fact": "F.relu" if p["act"] == "relu" else "torch.tanh",
        "flrn": "" if lrn is None else "(lambda t: F.local_response_norm(t, {}, alpha={}, beta={}, k={}))".format(
            *lrn),
        "fpool": f"(lambda t: F.{'max' if kind == 'max' else 'avg'}_pool2d(t, {k}, {s}))",
        "init": _INIT[style][0] if p["init"] == "paper" else "pass  # PyTorch's default initialisation",
    }
    body = {"torchvision": _TORCHVISION, "flat": _FLAT, "functional": _FUNCTIONAL}[style].format(**fields)
    doc = f"AlexNet, {style} style: {mutation.name}."
    return _HEADER.format(doc=doc) + body


@dataclass(frozen=True)
class Generated:
    """One repository of the corpus and what its audit must say."""

    ref: str  # relative to the corpus folder (the list file's folder)
    folder: str
    style: str
    mutation: Mutation

    def expected(self, item_id: str, group: str) -> str:
        """The status item `item_id` (of spec group `group`) must have on this target."""
        if item_id in self.mutation.deviates:
            return "deviation"
        if item_id in self.mutation.variants:
            return "variant"
        if group in SKIPPED_GROUPS or item_id in self.mutation.skips:
            return "skip"
        return "pass"


def plan(n: int) -> list[Generated]:
    """N repositories: every style with every mutation in turn (deterministic)."""
    out = []
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        mutation = MUTATIONS[(i // len(STYLES) + i) % len(MUTATIONS)]
        folder = f"repo-{i:04d}"
        out.append(Generated(f"{folder}/model.py:build", folder, style, mutation))
    return out


def write_corpus(root: Path, n: int) -> list[Generated]:
    """Write N repositories under `root` and `root/targets.txt` (one target per line)."""
    root.mkdir(parents=True, exist_ok=True)
    targets = plan(n)
    for t in targets:
        repo = root / t.folder
        repo.mkdir(exist_ok=True)
        (repo / "model.py").write_text(source(t.style, t.mutation), encoding="utf-8")
        (repo / "README.md").write_text(f"# {t.folder}\n\nAn AlexNet ({t.style} style, {t.mutation.name}).\n",
                                        encoding="utf-8")
    lines = ["# generated by benchmarks/corpus.py: one target per line", *(t.ref for t in targets), ""]
    (root / "targets.txt").write_text("\n".join(lines), encoding="utf-8")
    return targets


def expected_totals(targets: list[Generated], items: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """item id -> status -> number of targets, for the spec's (id, group) pairs."""
    totals: dict[str, dict[str, int]] = {}
    for item_id, group in items:
        counts = totals.setdefault(item_id, {})
        for t in targets:
            status = t.expected(item_id, group)
            counts[status] = counts.get(status, 0) + 1
    return totals


if __name__ == "__main__":
    made = write_corpus(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"wrote {len(made)} repositories and {Path(sys.argv[1]) / 'targets.txt'}")
