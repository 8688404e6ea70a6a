"""Wild forms: full-size AlexNets written the way public repositories write them (wrappers: wrapped.py).

Each class or factory here imitates a construct seen in real code: plain Python objects instead of
modules, normalisations built from a constant-kernel convolution, a cumulative sum or an average
pool, hand-written fully-connected layers on `nn.Parameter`s, dropout as a bernoulli mask, ReLU as
`clamp`, convolution by `unfold` + matmul, odd containers and names, wrappers (DataParallel,
AveragedModel, TorchScript). The catalogue in `test_wild.py` says what each must audit as.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

PAPER_BIAS = (0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0)  # §5: conv1..conv5, fc6..fc8


@torch.no_grad()
def paper_init(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """§5: weights N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere."""
    for (w, b), v in zip(pairs, PAPER_BIAS, strict=True):
        w.normal_(0.0, 0.01)
        b.fill_(v)


# ------------------------------------------------------------------ normalisations -------------

class ConvLRN:
    """A plain object (no nn.Module): the window sum of squares is F.conv2d with a 0/1 kernel made per call."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, every_channel=False):
        self.size, self.alpha, self.beta, self.k, self.every = size, alpha, beta, k, every_channel

    def __call__(self, x):
        c = x.size(1)
        if self.every:
            kernel = torch.ones(c, c, 1, 1)
        else:
            kernel = torch.zeros(c, c, 1, 1)
            half = self.size // 2
            for i in range(c):
                kernel[i, max(0, i - half):min(c, i + half + 1)] = 1.0
        div = F.conv2d(x.pow(2), kernel)
        return x / (self.k + self.alpha * div).pow(self.beta)


class BufferLRN(nn.Module):
    """The 0/1 window kernel as a registered buffer; the window sum is a 1x1 convolution."""

    def __init__(self, channels, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        idx = torch.arange(channels)
        band = ((idx[:, None] - idx[None, :]).abs() <= size // 2).float()
        self.register_buffer("band", band[:, :, None, None])
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, x):
        return x * (self.k + self.alpha * F.conv2d(x * x, self.band)).pow(-self.beta)


def cumsum_lrn(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """Window sums from a cumulative sum over channels, differenced."""
    half = size // 2
    sq = F.pad(x.pow(2), (0, 0, 0, 0, half + 1, half))
    cs = sq.cumsum(dim=1)
    s = cs[:, size:] - cs[:, :-size]
    return x / (k + alpha * s) ** beta


def avgpool_lrn(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The window mean by avg_pool3d over a channel axis (how torch's own LRN does it), times size."""
    div = x.pow(2).unsqueeze(1)
    div = F.avg_pool3d(F.pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2)), (size, 1, 1), stride=1).squeeze(1)
    return x / div.mul(alpha * size).add(k).pow(beta)


# ------------------------------------------------------------------ the plain-object repo ------

class PlainLRNNet(nn.Module):
    """Modules for layers, a plain-object LRN; the channel count and k are parameters of the form."""

    def __init__(self, lrn=None, num_classes=1000):
        super().__init__()
        self.lrn = lrn or ConvLRN()
        self.conv1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.conv2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.conv4 = nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.fc6 = nn.Linear(9216, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.drop = nn.Dropout(0.5)
        paper_init([(m.weight, m.bias) for m in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5,
                                                 self.fc6, self.fc7, self.fc8)])

    def forward(self, x):
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = x.view(x.size(0), -1)
        x = self.drop(F.relu(self.fc6(x)))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


class BufferLRNNet(PlainLRNNet):
    """The same net with per-block nn.Module LRNs whose window kernel is a registered buffer."""

    def __init__(self, size=5, k=2.0):
        super().__init__()
        self.norm1 = BufferLRN(96, size=size, k=k)
        self.norm2 = BufferLRN(256, size=size, k=k)

    def forward(self, x):
        x = F.max_pool2d(self.norm1(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.norm2(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc6(x)))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


# ------------------------------------------------------------------ hand-written layers ---------

class Dense:
    """A fully-connected layer as a plain object over two nn.Parameters: x @ W.t() + b."""

    def __init__(self, owner: nn.Module, name: str, fin: int, fout: int):
        self.w = nn.Parameter(torch.empty(fout, fin))
        self.b = nn.Parameter(torch.empty(fout))
        owner.register_parameter(f"{name}_w", self.w)
        owner.register_parameter(f"{name}_b", self.b)

    def __call__(self, x):
        return x @ self.w.t() + self.b


def bernoulli_dropout(x, p=0.5, training=True, inverted=True, rand=False):
    """Dropout as a bernoulli mask (or a uniform draw of the batch's shape, thresholded); inverted rescales
    in training, else the test-time output is scaled."""
    if not training:
        return x if inverted else x * (1 - p)
    mask = (torch.rand(x.shape) >= p).float() if rand else torch.bernoulli(torch.full_like(x, 1 - p))
    return x * mask / (1 - p) if inverted else x * mask


class HandNet(nn.Module):
    """Convs as modules; fc6-fc8 hand-written on Parameters; dropout a bernoulli mask; ReLU as clamp/where."""

    def __init__(self, p=0.5, inverted=True, fc7_relu=True, always_drop=False, relu="clamp", rand=False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4, 2), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, 1, 2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, 1, 1), nn.ReLU(), nn.Conv2d(384, 384, 3, 1, 1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.fc6 = Dense(self, "fc6", 9216, 4096)
        self.fc7 = Dense(self, "fc7", 4096, 4096)
        self.fc8 = Dense(self, "fc8", 4096, 1000)
        self.p, self.inverted, self.fc7_relu, self.always, self.relu = p, inverted, fc7_relu, always_drop, relu
        self.rand = rand
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        paper_init([(m.weight, m.bias) for m in convs] + [(f.w, f.b) for f in (self.fc6, self.fc7, self.fc8)])

    def act(self, x):
        return x.clamp(min=0) if self.relu == "clamp" else torch.where(x > 0, x, 0.0)

    def drop(self, x):
        return bernoulli_dropout(x, self.p, self.training or self.always, self.inverted, self.rand)

    def forward(self, x):
        x = self.features(x).flatten(1)
        x = self.drop(self.act(self.fc6(x)))
        x = self.fc7(x)
        x = self.drop(self.act(x) if self.fc7_relu else x)
        return self.fc8(x)


class UnfoldConv(nn.Module):
    """A convolution as im2col: F.unfold, a matmul with the flattened kernel, the bias, a view back to maps."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.bias = nn.Parameter(torch.empty(cout))
        self.k, self.stride, self.padding = k, stride, padding

    def forward(self, x):
        n, _, h, w = x.shape
        oh = (h + 2 * self.padding - self.k) // self.stride + 1
        ow = (w + 2 * self.padding - self.k) // self.stride + 1
        cols = F.unfold(x, self.k, padding=self.padding, stride=self.stride)
        out = self.weight.view(self.weight.size(0), -1) @ cols + self.bias.view(1, -1, 1)
        return out.view(n, -1, oh, ow)


class UnfoldNet(nn.Module):
    """conv1 and conv3 written as unfold convolutions, the rest as modules."""

    def __init__(self):
        super().__init__()
        self.c1 = UnfoldConv(3, 96, 11, 4, 2)
        self.c2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.c3 = UnfoldConv(256, 384, 3, 1, 1)
        self.c4 = nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.c5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.norm = nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)
        self.head = nn.Sequential(nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(),
                                  nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))
        lin = [m for m in self.head if isinstance(m, nn.Linear)]
        paper_init([(m.weight, m.bias) for m in (self.c1, self.c2, self.c3, self.c4, self.c5, *lin)])

    def forward(self, x):
        x = F.max_pool2d(self.norm(F.relu(self.c1(x))), 3, 2)
        x = F.max_pool2d(self.norm(F.relu(self.c2(x))), 3, 2)
        x = F.relu(self.c4(F.relu(self.c3(x))))
        x = F.max_pool2d(F.relu(self.c5(x)), 3, 2)
        return self.head(torch.flatten(x, 1))


# ------------------------------------------------------------------ containers and names -------

def _features(lrn=lambda: nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)):
    return [nn.Conv2d(3, 96, 11, 4, 2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2)]


def _classifier():
    return [nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, 1000)]


def _init_modules(model: nn.Module) -> nn.Module:
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    paper_init([(m.weight, m.bias) for m in layers[:8]])
    return model


class DictNet(nn.Module):
    """Layers in an nn.ModuleDict under names unrelated to the paper, run in the order of a plain list."""

    ORDER = ["stem", "s_act", "s_norm", "s_pool", "expand", "e_act", "e_norm", "e_pool", "mix_a", "ma_act",
             "mix_b", "mb_act", "squeeze", "sq_act", "sq_pool"]
    HEAD = ["proj", "p_act", "p_drop", "hidden", "h_act", "h_drop", "logits"]

    def __init__(self):
        super().__init__()
        self.body = nn.ModuleDict(dict(zip(self.ORDER, _features(), strict=True)))
        self.top = nn.ModuleDict(dict(zip(self.HEAD, _classifier(), strict=True)))
        paper_init([(self.body[k].weight, self.body[k].bias) for k in ("stem", "expand", "mix_a", "mix_b", "squeeze")]
                   + [(self.top[k].weight, self.top[k].bias) for k in ("proj", "hidden", "logits")])

    def forward(self, x):
        for k in self.ORDER:
            x = self.body[k](x)
        x = x.reshape(x.shape[0], -1)
        for k in self.HEAD:
            x = self.top[k](x)
        return x


def nested_four_deep():
    """nn.Sequential nested four deep: model -> stage -> block -> unit -> layer."""
    f = _features()
    blocks = [f[0:4], f[4:8], f[8:10], f[10:12], f[12:15]]
    stages = nn.Sequential(
        nn.Sequential(*[nn.Sequential(nn.Sequential(*b)) for b in blocks[:2]]),
        nn.Sequential(*[nn.Sequential(nn.Sequential(*b)) for b in blocks[2:]]))
    return _init_modules(nn.Sequential(stages, nn.Flatten(), nn.Sequential(nn.Sequential(*_classifier()))))


class UnusedLayerNet(nn.Module):
    """A layer defined but never called (left over from an experiment); the rest is the paper's."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)
        self.aux_head = nn.Linear(9216, 10)  # never called

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class NHWCNet(UnusedLayerNet):
    """Flattened channels-last before fc6 (x.permute(0, 2, 3, 1)): a permutation of fc6's inputs."""

    def forward(self, x):
        x = self.features(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.classifier(x)


class ExtraScaleNet(UnusedLayerNet):
    """An extra `x * factor` in forward before the first layer (x * 1.0, or x / 255 on already normalised input)."""

    def __init__(self, factor=1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        x = x * self.factor
        return self.classifier(torch.flatten(self.features(x), 1))


class SharedConvNet(UnusedLayerNet):
    """One conv module called twice: conv4's weights also stand in for an extra 384 -> 384 layer."""

    def forward(self, x):
        f = self.features
        x = f[0:10](x)
        x = f[11](f[10](x))
        x = f[11](f[10](x))  # the same parameters again
        x = f[12:](x)
        return self.classifier(torch.flatten(x, 1))


class FunctionalLRNNet(UnusedLayerNet):
    """The LRN as F.local_response_norm with the paper's printed constants passed to PyTorch (or its defaults)."""

    def __init__(self, **lrn):
        super().__init__()
        self.lrn = lrn
        del self.aux_head

    def forward(self, x):
        f = self.features
        for i, m in enumerate(f):
            x = F.local_response_norm(x, **self.lrn) if i in (2, 6) else m(x)
        return self.classifier(torch.flatten(x, 1))


class UnfoldDenseNet(UnfoldNet):
    """conv4 written as a dense unfold convolution: every map connected (the one-tower layer)."""

    def __init__(self):
        super().__init__()
        self.c4 = UnfoldConv(384, 384, 3, 1, 1)
        paper_init([(self.c4.weight, self.c4.bias)] + [(torch.empty(1), torch.empty(1))] * 7)
        with torch.no_grad():
            self.c4.bias.fill_(1.0)


class HandTowersNet(UnusedLayerNet):
    """conv2 as two explicit towers: F.conv2d on each half with its own Parameters, bias added after, cat."""

    def __init__(self):
        super().__init__()
        del self.aux_head
        self.w2 = nn.ParameterList([nn.Parameter(torch.empty(128, 48, 5, 5)) for _ in range(2)])
        self.b2 = nn.ParameterList([nn.Parameter(torch.empty(128)) for _ in range(2)])
        for wt, bt in zip(self.w2, self.b2, strict=True):
            paper_init([(wt, bt), (wt, bt)] + [(torch.empty(1), torch.empty(1))] * 6)  # bias 1, as conv2's
        self.features[4] = nn.Identity()

    def forward(self, x):
        f = self.features
        x = f[0:4](x)
        halves = torch.split(x, 48, dim=1)
        x = torch.cat([F.conv2d(h, wt, padding=2) + bt.view(1, -1, 1, 1)
                       for h, wt, bt in zip(halves, self.w2, self.b2, strict=True)], dim=1)
        x = f[5:](x)
        return self.classifier(torch.flatten(x, 1))
