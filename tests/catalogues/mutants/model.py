"""Model mutants: full-size AlexNets with exactly one defect each, faithful-but-unusual forms and
accepted variants, built by one small builder (`make`) with keyword switches.

`deviates` lists exactly the architecture/normalisation/pooling/dropout/init ids that must be
`deviation` (a defect that legitimately cascades, e.g. channels into parameter counts, lists them
all); `variants` the ids that must be `variant`. Every other id of those groups must pass.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.catalogues.mutants import Mutant

PAPER_BIAS = (0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0)  # §5: conv1..conv5, fc6..fc8


@dataclass(frozen=True)
class Cfg:
    style: str = "sequential"  # sequential | modulelist | control_flow | towers | train_skips_lrn | batch_avgpool
    input_size: int = 224
    conv1_pad: object = "pad03"  # "pad03" = ZeroPad2d((0, 3, 0, 3)); or a symmetric int
    channels: tuple = (96, 256, 384, 384, 256)
    kernels: tuple = (11, 5, 3, 3, 3)
    strides: tuple = (4, 1, 1, 1, 1)
    groups: tuple = (1, 2, 1, 2, 2)
    fc: tuple = (4096, 4096)
    num_classes: int = 1000
    act: str = "relu"  # relu | tanh | leaky
    inplace: bool = False  # nn.ReLU(inplace=True) and nn.Dropout(inplace=True), common in real code
    no_act: frozenset = frozenset()  # layers without their non-linearity, e.g. {"conv3"}
    act_fc8: bool = False
    lrn: dict | None = field(default_factory=lambda: {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0})
    lrn_impl: str = "torch"  # torch | hand
    block_order: str = "act>lrn>pool"  # blocks 1 and 2
    pool: tuple = ("max", 3, 2)
    pool_after: tuple = (1, 2, 5)
    pool5: str = ""  # "adaptive_avg": AdaptiveAvgPool2d(6) instead of the max-pool after conv5
    adaptive_identity: bool = False  # torchvision's AdaptiveAvgPool2d((6, 6)) after pool5
    bn_after: tuple = ()  # conv layers whose activation is followed by an nn.BatchNorm2d, e.g. (3,)
    head: str = ""  # "softmax" | "log_softmax": nn.Softmax(dim=1) / nn.LogSoftmax(dim=1) after fc8
    dropout_p: float = 0.5
    dropout_on: tuple = ("fc6", "fc7")  # layers whose output is dropped ("pool5" = fc6's input)
    dropout_before_act: bool = False
    dropout_always: bool = False  # F.dropout(training=True): active in eval too
    init: str = "paper"  # paper | default | uniform
    wstd: tuple = (0.01,) * 8
    biases: tuple = PAPER_BIAS


class HandLRN(nn.Module):
    """§3.3 written out: b = a / (k + alpha * sum over n neighbours of a^2)^beta (plain sum)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.n, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        sq = F.pad(x.pow(2), (0, 0, 0, 0, self.n // 2, (self.n - 1) // 2))
        s = sum(sq[:, i:i + x.shape[1]] for i in range(self.n))
        return x / (self.k + self.alpha * s).pow(self.beta)


class AlwaysDropout(nn.Module):
    """Dropout that ignores eval(): F.dropout(x, p, training=True)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, training=True)


class Towers(nn.Module):
    """Two explicit towers: each conv sees its own half of the maps (or all of them), outputs concatenated."""

    def __init__(self, cin, cout, k, stride, pad, split=True, act=None):
        super().__init__()
        ci = cin // 2 if split else cin
        self.split = split
        self.gpu0 = nn.Conv2d(ci, cout // 2, k, stride, pad)
        self.gpu1 = nn.Conv2d(ci, cout // 2, k, stride, pad)
        self.act = act

    def forward(self, x):
        h = x.shape[1] // 2
        a, b = (x[:, :h], x[:, h:]) if self.split else (x, x)
        a, b = self.gpu0(a), self.gpu1(b)
        if self.act is not None:
            a, b = self.act(a), self.act(b)
        return torch.cat([a, b], dim=1)


def _act(c: Cfg) -> nn.Module:
    if c.inplace and c.act == "relu":
        return nn.ReLU(inplace=True)
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky": lambda: nn.LeakyReLU(0.01)}[c.act]()


def _lrn(c: Cfg) -> nn.Module:
    if c.lrn_impl == "hand":
        a = dict(c.lrn)
        return HandLRN(a["size"], a["alpha"] / a["size"], a["beta"], a["k"])  # torch alpha -> plain-sum alpha
    return nn.LocalResponseNorm(**c.lrn)


def _pool(c: Cfg, block: int) -> nn.Module:
    if block == 5 and c.pool5 == "adaptive_avg":
        return nn.AdaptiveAvgPool2d(6)
    kind, k, s = c.pool
    return nn.MaxPool2d(k, s) if kind == "max" else nn.AvgPool2d(k, s)


def _steps(c: Cfg) -> tuple[list[tuple[str, nn.Module]], list[list[nn.Module]]]:
    """(name, module) steps in execution order, and the modules of each paper layer (for init)."""
    steps: list[tuple[str, nn.Module]] = []
    layers: list[list[nn.Module]] = []
    side = c.input_size
    cin = 3
    for i in range(5):
        n = i + 1
        k, s, g, cout = c.kernels[i], c.strides[i], c.groups[i], c.channels[i]
        if i == 0:
            if c.conv1_pad == "pad03":
                steps.append(("pad1", nn.ZeroPad2d((0, 3, 0, 3))))
                pad, side = 0, side + 3
            else:
                pad, side = int(c.conv1_pad), side + 2 * int(c.conv1_pad)
        else:
            pad, side = k // 2, side + 2 * (k // 2)
        side = (side - k) // s + 1
        per_tower_act = c.style == "towers" and n == 4 and f"conv{n}" not in c.no_act
        if c.style == "towers" and n in (2, 3, 4, 5):
            conv = Towers(cin, cout, k, s, pad, split=(n != 3), act=_act(c) if per_tower_act else None)
            layers.append([conv.gpu0, conv.gpu1])
        else:
            conv = nn.Conv2d(cin, cout, k, s, pad, groups=g)
            layers.append([conv])
        steps.append((f"conv{n}", conv))
        order = c.block_order.split(">") if n in (1, 2) else ["act", "pool"]
        for role in order:
            if role == "act" and f"conv{n}" not in c.no_act and not per_tower_act:
                steps.append((f"act{n}", _act(c)))
                if n in c.bn_after:
                    steps.append((f"bn{n}", nn.BatchNorm2d(cout)))
            elif role == "lrn" and c.lrn is not None and n in (1, 2):
                steps.append((f"lrn{n}", _lrn(c)))
            elif role == "pool" and n in c.pool_after:
                p = _pool(c, n)
                steps.append((f"pool{n}", p))
                side = 6 if isinstance(p, nn.AdaptiveAvgPool2d) else (side - c.pool[1]) // c.pool[2] + 1
        cin = cout
    if c.adaptive_identity:
        steps.append(("avgpool", nn.AdaptiveAvgPool2d((6, 6))))
    steps.append(("flatten", nn.Flatten()))
    fin = cin * side * side

    def drop(name):
        return (name, AlwaysDropout(c.dropout_p) if c.dropout_always else nn.Dropout(c.dropout_p, inplace=c.inplace))

    if "pool5" in c.dropout_on:
        steps.append(drop("drop5"))
    for j, fout in enumerate((*c.fc, c.num_classes)):
        n = 6 + j
        fc = nn.Linear(fin, fout)
        layers.append([fc])
        steps.append((f"fc{n}", fc))
        has_act = (n < 8 or c.act_fc8) and f"fc{n}" not in c.no_act
        dropped = f"fc{n}" in c.dropout_on
        if dropped and c.dropout_before_act:
            steps.append(drop(f"drop{n}"))
        if has_act:
            steps.append((f"act{n}", _act(c)))
        if dropped and not c.dropout_before_act:
            steps.append(drop(f"drop{n}"))
        fin = fout
    if c.head:
        steps.append(("prob", nn.Softmax(dim=1) if c.head == "softmax" else nn.LogSoftmax(dim=1)))
    return steps, layers


@torch.no_grad()
def _init(c: Cfg, layers: list[list[nn.Module]]) -> None:
    if c.init == "default":
        return
    for j, mods in enumerate(layers):
        for m in mods:
            if c.init == "uniform":  # std 0.01 but uniform: U(-a, a) with a = 0.01 * sqrt(3)
                nn.init.uniform_(m.weight, -0.01 * 3 ** 0.5, 0.01 * 3 ** 0.5)
            else:
                nn.init.normal_(m.weight, 0.0, c.wstd[j])
            nn.init.constant_(m.bias, c.biases[j])


class ModuleListNet(nn.Module):
    """Layers in one nameless nn.ModuleList under an odd attribute name."""

    def __init__(self, steps):
        super().__init__()
        self.zz_ = nn.ModuleList([m for _, m in steps])

    def forward(self, x):
        for m in self.zz_:
            x = m(x)
        return x


class ControlFlowNet(nn.Module):
    """Data-dependent control flow in forward; ReLUs written as the tensor method x.relu()."""

    def __init__(self, steps):
        super().__init__()
        self.body = nn.Sequential(OrderedDict(steps))

    def forward(self, x):
        if x.abs().mean() > 1e9:  # never taken on real data, but decided by the data
            return x.new_zeros(x.shape[0], 1000)
        i = 0
        mods = list(self.body)
        while i < len(mods):
            m = mods[i]
            if isinstance(m, nn.ReLU) and x.std() > 0:
                x = x.relu()
            else:
                x = m(x)
            i += 1
        return x


class ModeNet(nn.Module):
    """The paper's layers, but forward runs another network in train mode (LRNs skipped,
    "train_skips_lrn") or at batches larger than 2 (every max pool averages, "batch_avgpool")."""

    def __init__(self, steps, mode):
        super().__init__()
        self.body = nn.Sequential(OrderedDict(steps))
        self.mode = mode

    def forward(self, x):
        for m in self.body:
            if self.mode == "train_skips_lrn" and self.training and isinstance(m, nn.LocalResponseNorm):
                continue
            if self.mode == "batch_avgpool" and isinstance(m, nn.MaxPool2d) and x.size(0) > 2:
                x = F.avg_pool2d(x, m.kernel_size, m.stride, m.padding)
                continue
            x = m(x)
        return x


class FunctionalNet(nn.Module):
    """The paper net written with functional calls only and its own Parameters (conv via F.conv2d)."""

    SHAPES = [(96, 3, 11, 11), (256, 48, 5, 5), (384, 256, 3, 3), (384, 192, 3, 3), (256, 192, 3, 3),
              (4096, 9216), (4096, 4096), (1000, 4096)]

    def __init__(self):
        super().__init__()
        for j, shape in enumerate(self.SHAPES):
            w = nn.Parameter(torch.empty(shape).normal_(0.0, 0.01))
            b = nn.Parameter(torch.full((shape[0],), PAPER_BIAS[j]))
            self.register_parameter(f"w{j}", w)
            self.register_parameter(f"b{j}", b)

    def forward(self, x):
        def block(x, j, groups, pad, lrn, pool, stride=1):
            x = F.relu(F.conv2d(x, getattr(self, f"w{j}"), getattr(self, f"b{j}"), stride, pad, 1, groups))
            if lrn:
                x = F.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0)
            return F.max_pool2d(x, 3, 2) if pool else x

        x = F.pad(x, (0, 3, 0, 3))
        x = block(x, 0, 1, 0, True, True, stride=4)
        x = block(x, 1, 2, 2, True, True)
        x = block(x, 2, 1, 1, False, False)
        x = block(x, 3, 2, 1, False, False)
        x = block(x, 4, 2, 1, False, True)
        x = torch.flatten(x, 1)
        x = F.dropout(F.relu(F.linear(x, self.w5, self.b5)), 0.5, self.training)
        x = F.dropout(F.relu(F.linear(x, self.w6, self.b6)), 0.5, self.training)
        return F.linear(x, self.w7, self.b7)


def make(**kw) -> nn.Module:
    """A full-size AlexNet; keyword switches change one thing each (see Cfg)."""
    c = Cfg(**kw)
    steps, layers = _steps(c)
    if c.style == "modulelist":
        model = ModuleListNet(steps)
    elif c.style == "control_flow":
        model = ControlFlowNet(steps)
    elif c.style in ("train_skips_lrn", "batch_avgpool"):
        model = ModeNet(steps, c.style)
    else:
        model = nn.Sequential(OrderedDict(steps))
    _init(c, layers)
    return model


def _m(name, doc, deviates=(), variants=(), probes=(), derived=(), **kw):
    """`deviates`: the primary ids; `derived`: ids that deviate because of them and say so (caused_by)."""
    return Mutant(name, doc, lambda: partial(make, **kw), frozenset(deviates) | frozenset(derived),
                  frozenset(variants), frozenset(probes), frozenset(derived))


def _target(name, doc, target, deviates=(), variants=(), probes=(), derived=()):
    return Mutant(name, doc, target, frozenset(deviates) | frozenset(derived), frozenset(variants),
                  frozenset(probes), frozenset(derived))


_COUNTS = ("arch.params_total", "arch.params_per_layer")
_PAPER_LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}

MUTANTS: list[Mutant] = [
    # ------------------------------------------------ faithful forms (nothing may deviate) -----
    _m("faithful_sequential", "paper net as one flat nn.Sequential (no defect)"),
    _target("faithful_functional", "functional calls only: F.conv2d with own Parameters, F.relu, "
            "F.local_response_norm, F.max_pool2d, F.dropout (no defect)", lambda: FunctionalNet),
    _m("faithful_control_flow", "data-dependent control flow in forward, x.relu() (no defect)", style="control_flow"),
    _m("faithful_towers", "explicit two-tower conv2-conv5 with torch.cat, per-tower ReLU on conv4 (no defect)",
       style="towers"),
    _m("faithful_hand_lrn", "hand-written LRN module computing the §3.3 formula with pow/sum (no defect)",
       lrn_impl="hand"),
    _m("faithful_modulelist", "layers in a nameless nn.ModuleList under an odd attribute (no defect)",
       style="modulelist"),
    _m("faithful_dropout_before_relu", "Dropout placed before the ReLU of fc6/fc7 (equivalent; no defect)",
       dropout_before_act=True),
    _m("faithful_inplace", "nn.ReLU(inplace=True) and nn.Dropout(inplace=True) everywhere (no defect)",
       inplace=True),
    _m("faithful_sym_pad2", "conv1 with symmetric padding 2 on 224 gives 55 (no defect)", conv1_pad=2),
    # ------------------------------------------------ accepted variants ------------------------
    _m("variant_adaptive_identity", "torchvision's AdaptiveAvgPool2d((6, 6)) after pool5, an identity at 224",
       adaptive_identity=True, variants={"pool.placement"}),
    _target("variant_227_unpadded", "227 input with an unpadded conv1 (Caffe)",
            lambda: {"model": partial(make, input_size=227, conv1_pad=0), "input_size": (3, 227, 227)},
            variants={"arch.input_size"}),
    _m("variant_ungrouped", "groups=1 everywhere (single-GPU equivalent)", groups=(1,) * 5,
       variants={"arch.conv2.groups", "arch.conv4.groups", "arch.conv5.groups", *_COUNTS}),
    _m("variant_alpha_over_n", "LocalResponseNorm(5, alpha=1e-4): the alpha/n convention",
       lrn={**_PAPER_LRN, "alpha": 1e-4}, variants={"lrn.alpha"}),
    _target("variant_10_classes", "a 10-way head with num_classes=10 declared",
            lambda: {"model": partial(make, num_classes=10), "num_classes": 10},
            variants={"arch.fc8.out_features"}),
    # ------------------------------------------------ single defects ---------------------------
    *[_m(f"conv{i + 1}_channels", f"conv{i + 1} has {ch} kernels instead of the paper's",
         deviates={f"arch.conv{i + 1}.out_channels"}, derived={*_COUNTS, "arch.neurons"}, probes={"conv_attr"},
         channels=tuple(ch if j == i else v for j, v in enumerate((96, 256, 384, 384, 256))))
      for i, ch in enumerate((64, 192, 256, 256, 192))],
    _m("conv1_kernel_9", "conv1 kernels are 9x9 instead of 11x11", kernels=(9, 5, 3, 3, 3),
       deviates={"arch.conv1.kernel_size"}, derived=_COUNTS),
    _m("conv2_kernel_3", "conv2 kernels are 3x3 instead of 5x5", kernels=(11, 3, 3, 3, 3),
       deviates={"arch.conv2.kernel_size"}, derived=_COUNTS),
    _m("conv2_stride_2", "conv2 has stride 2", strides=(4, 2, 1, 1, 1),
       deviates={"arch.conv2.stride"}, derived={"arch.feature_maps", "arch.neurons", *_COUNTS},
       probes={"feature_maps"}),
    _m("conv1_unpadded_224", "conv1 unpadded on a 224 input gives 54x54", conv1_pad=0,
       deviates={"arch.input_size"}, derived={"arch.feature_maps", "arch.neurons", *_COUNTS}, probes={"input_size"}),
    _m("conv1_stride_3", "conv1 has stride 3 (73x73 maps)", strides=(3, 1, 1, 1, 1),
       deviates={"arch.conv1.stride"}, derived={"arch.input_size", "arch.feature_maps", "arch.neurons", *_COUNTS}),
    *[_m(f"conv{n}_kernel_5", f"conv{n} kernels are 5x5 instead of 3x3 (padding 2 keeps the sizes)",
         kernels=tuple(5 if j == n - 1 else k for j, k in enumerate((11, 5, 3, 3, 3))),
         deviates={f"arch.conv{n}.kernel_size"}, derived=_COUNTS) for n in (3, 4, 5)],
    *[_m(f"conv{n}_stride_2", f"conv{n} has stride 2 (7x7 maps, 3x3 after pool5)",
         strides=tuple(2 if j == n - 1 else s for j, s in enumerate((4, 1, 1, 1, 1))),
         deviates={f"arch.conv{n}.stride"}, derived={"arch.feature_maps", "arch.neurons", *_COUNTS})
      for n in (3, 4, 5)],
    _m("conv1_groups_3", "conv1 with groups=3 (each kernel sees one colour)", groups=(3, 2, 1, 2, 2),
       deviates={"arch.conv1.groups"}, derived=_COUNTS),
    *[_m(f"conv{n}_groups_4", f"conv{n} with groups=4", groups=tuple(4 if j == n - 1 else g for j, g in
                                                                    enumerate((1, 2, 1, 2, 2))),
         deviates={f"arch.conv{n}.groups"}, derived=_COUNTS) for n in (2, 4, 5)],
    _m("conv3_grouped", "conv3 with groups=2 (the paper's conv3 sees both halves)", groups=(1, 2, 2, 2, 2),
       deviates={"arch.conv3.groups"}, derived=_COUNTS),
    _m("conv2_ungrouped_only", "groups=1 on conv2 only: a variant there, but the counts match neither reading",
       groups=(1, 1, 1, 2, 2), variants={"arch.conv2.groups"}, deviates=set(_COUNTS)),
    _m("tanh", "tanh instead of ReLU everywhere", act="tanh", deviates={"arch.activation"},
       probes={"activation"}),
    _m("leaky_relu", "LeakyReLU(0.01) instead of ReLU", act="leaky",
       deviates={"arch.activation"}),
    _m("relu_on_fc8", "a ReLU on fc8's logits", act_fc8=True,
       deviates={"arch.relu_placement"}, probes={"relu_placement"}),
    _m("no_relu_conv3", "no ReLU after conv3", no_act=frozenset({"conv3"}),
       deviates={"arch.relu_placement"}),
    _m("no_lrn", "no response normalisation", lrn=None, deviates={"lrn.placement"},
       probes={"lrn_placement"}),
    _m("lrn_k1", "LRN with k=1 (PyTorch/Caffe default)", lrn={**_PAPER_LRN, "k": 1.0}, deviates={"lrn.k"},
       probes={"lrn_params"}),
    _m("lrn_size3", "LRN window n=3 (alpha kept at 1e-4 on the plain sum)", lrn={**_PAPER_LRN, "size": 3,
                                                                                   "alpha": 3e-4},
       deviates={"lrn.size"}),
    _m("lrn_beta_half", "LRN beta=0.5", lrn={**_PAPER_LRN, "beta": 0.5}, deviates={"lrn.beta"}),
    _m("lrn_alpha_5x", "LRN alpha 5x too big (PyTorch alpha 2.5e-3)", lrn={**_PAPER_LRN, "alpha": 2.5e-3},
       deviates={"lrn.alpha"}),
    _m("lrn_before_relu", "LRN before the ReLU in blocks 1-2 (cuda-convnet2 conv1)", block_order="lrn>act>pool",
       deviates={"lrn.placement"}),
    _m("pool_before_lrn", "pooling before LRN in blocks 1-2 (CaffeNet)", block_order="act>pool>lrn",
       deviates={"lrn.placement"}),
    _m("avg_pool", "average instead of max pooling", pool=("avg", 3, 2),
       deviates={"pool.type"}, probes={"pool_attr"}),
    _m("pool_2x2", "non-overlapping 2/2 pooling (same map sizes)", pool=("max", 2, 2),
       deviates={"pool.kernel_size"}),
    _m("pool5_adaptive_avg", "AdaptiveAvgPool2d(6) instead of the max-pool after conv5 (changes the function)",
       pool5="adaptive_avg", deviates={"pool.type"}),
    _m("pool_after_conv4", "the third max-pool follows conv4 instead of conv5", pool_after=(1, 2, 4),
       deviates={"pool.placement"}, derived={"arch.feature_maps", "arch.neurons"},
       probes={"pool_placement"}),
    _m("dropout_p03", "dropout p=0.3", dropout_p=0.3, deviates={"dropout.p"}, probes={"dropout_rate"}),
    _m("dropout_torchvision_order", "dropout on pool5 and fc6 outputs (torchvision order)",
       dropout_on=("pool5", "fc6"), deviates={"dropout.placement"},
       probes={"dropout_placement"}),
    _m("dropout_p03_inplace", "in-place dropout p=0.3 (nn.Dropout(0.3, inplace=True))", dropout_p=0.3,
       inplace=True, deviates={"dropout.p"}, probes={"dropout_rate"}),
    _m("dropout_active_in_eval", "F.dropout(training=True): dropout stays on in eval", dropout_always=True,
       deviates={"dropout.eval"}, probes={"dropout_eval"}),
    _m("default_init", "PyTorch default init (Kaiming-uniform weights and uniform biases)", init="default",
       deviates={"init.weights", "init.biases"}, probes={"init_weights"}),
    _m("uniform_init", "weights uniform with std 0.01 instead of Gaussian", init="uniform",
       deviates={"init.weights"}),
    _m("caffe_fc_std", "fc6/fc7 weights std 0.005 (Caffe)", wstd=(0.01,) * 5 + (0.005, 0.005, 0.01),
       deviates={"init.weights"}),
    _m("bias_point_one", "biases 0.1 where the paper has 1 (Caffe)", biases=(0, .1, 0, .1, .1, .1, .1, 0),
       deviates={"init.biases"}, probes={"init_biases"}),
    _m("fc6_2048", "fc6 has 2048 neurons", fc=(2048, 4096),
       deviates={"arch.fc6.out_features"}, derived={*_COUNTS, "arch.neurons"}, probes={"fc_attr", "params_total",
                                                                            "params_per_layer", "neurons"}),
    _m("fc7_2048", "fc7 has 2048 neurons", fc=(4096, 2048), deviates={"arch.fc7.out_features"},
       derived={*_COUNTS, "arch.neurons"}),
    _m("pool_stride_3", "pooling 3/3 (non-overlapping, smaller maps)", pool=("max", 3, 3),
       deviates={"pool.stride"}, derived={"arch.feature_maps", "arch.neurons", *_COUNTS}),
    _m("softmax_in_forward", "nn.Softmax(dim=1) after fc8 in forward (the loss then sees probabilities)",
       head="softmax", deviates={"arch.layer_sequence"}, probes={"layer_sequence"}),
    _m("batchnorm_conv3", "an nn.BatchNorm2d after conv3's ReLU (its 768 parameters too)", bn_after=(3,),
       deviates={"arch.layer_sequence"}, derived={"arch.params_total"}),
    _target("faithful_log_softmax_nll", "nn.LogSoftmax(dim=1) after fc8, trained with nn.NLLLoss (the §3.5 "
            "objective in two steps; no defect)",
            lambda: {"model": partial(make, head="log_softmax"), "loss": nn.NLLLoss()}),
    _m("log_softmax_no_loss", "nn.LogSoftmax(dim=1) after fc8 and no loss declared to read it",
       head="log_softmax", deviates={"arch.layer_sequence"}),
    _m("train_skips_lrn", "the LRNs are skipped in train mode only (eval mode is the paper's net)",
       style="train_skips_lrn", deviates={"arch.mode_consistency"}, probes={"mode_consistency"}),
    _m("batch_avgpool", "every max pool averages at batches larger than 2 (batch 2 is the paper's net)",
       style="batch_avgpool", deviates={"arch.mode_consistency"}),
    _m("fc8_500_undeclared", "fc8 has 500 outputs and no class count is declared", num_classes=500,
       deviates={"arch.fc8.out_features"}),
]

