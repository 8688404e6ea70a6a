"""Wild forms: full-size AlexNets written the way public repositories write them.

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
