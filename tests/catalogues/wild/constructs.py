"""Wild constructs of issue 22: layers written by what they compute, not by the module that computes it.

Each class or factory imitates a form real repositories use:

- fully-connected layers written as convolutions ("convolutionalised" AlexNet heads: fc6 a 6x6
  convolution over pool5's map, fc7 and fc8 1x1 convolutions, Dropout2d on the 1x1 maps);
- weights ported from another framework: kernels in height-width-in-out order in a ParameterDict,
  grouped convolutions by splitting kernel and input, dense layers by `torch.addmm`, biases added
  as a separate `+ b` in whatever shape the port keeps them;
- normalisations that are not a chain of one-tensor steps (a one-channel sum broadcast back over
  the input, the input read twice), and the legacy `nn.CrossMapLRN2d`, whose running window never
  drops map 0;
- padding modes other than zeros (`padding_mode='reflect'`, `nn.ReflectionPad2d`, `F.pad(mode=...)`);
- pool1 removed and rescued by an adaptive pool.

The catalogue in `test_constructs.py` says what each must audit as.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.catalogues.wild.models import _classifier, _features, _init_modules, paper_init

PAPER_LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}  # PyTorch's alpha is divided by size


# ------------------------------------------------------------------ fully-connected as convolutions --

class ConvHeadNet(nn.Module):
    """The classifier "convolutionalised" (FCN-style): fc6 a 6x6 conv over pool5's 256x6x6 map, fc7 and fc8
    1x1 convs, Dropout2d on the 1x1 maps; the [N, 1000, 1, 1] scores flattened at the end."""

    def __init__(self, fc=(4096, 4096), fc7_relu=True, drop=nn.Dropout2d):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.classifier = nn.Sequential(
            nn.Conv2d(256, fc[0], kernel_size=6), nn.ReLU(inplace=True), drop(0.5),
            nn.Conv2d(fc[0], fc[1], kernel_size=1), *([nn.ReLU(inplace=True)] if fc7_relu else []), drop(0.5),
            nn.Conv2d(fc[1], 1000, kernel_size=1))
        _init_modules(self)

    def forward(self, x):
        x = self.classifier(self.features(x))
        return x.view(x.size(0), -1)


class FlatConvHeadNet(nn.Module):
    """fc6-fc8 as 1x1 convolutions on a 1x1 map: pool5 flattened into [N, 9216, 1, 1] first (ported
    Caffe "InnerProduct as Convolution"); F.dropout2d in forward; squeezed at the end."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.fc6 = nn.Conv2d(9216, 4096, 1)
        self.fc7 = nn.Conv2d(4096, 4096, 1)
        self.fc8 = nn.Conv2d(4096, 1000, 1)
        _init_modules(self)

    def forward(self, x):
        x = self.features(x)
        x = x.reshape(x.shape[0], -1, 1, 1)
        x = F.dropout2d(F.relu(self.fc6(x)), 0.5, self.training)
        x = F.dropout2d(F.relu(self.fc7(x)), 0.5, self.training)
        return self.fc8(x).squeeze(3).squeeze(2)


class FunctionalConvHeadNet(nn.Module):
    """The conv head in functional form on registered Parameters (F.conv2d with a [4096, 256, 6, 6] kernel)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.w6 = nn.Parameter(torch.empty(4096, 256, 6, 6))
        self.b6 = nn.Parameter(torch.empty(4096))
        self.w7 = nn.Parameter(torch.empty(4096, 4096, 1, 1))
        self.b7 = nn.Parameter(torch.empty(4096))
        self.w8 = nn.Parameter(torch.empty(1000, 4096, 1, 1))
        self.b8 = nn.Parameter(torch.empty(1000))
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        paper_init([(m.weight, m.bias) for m in convs] + [(self.w6, self.b6), (self.w7, self.b7), (self.w8, self.b8)])

    def forward(self, x):
        x = self.features(x)
        x = F.dropout(F.relu(F.conv2d(x, self.w6, self.b6)), 0.5, self.training)
        x = F.dropout(F.relu(F.conv2d(x, self.w7, self.b7)), 0.5, self.training)
        return torch.flatten(F.conv2d(x, self.w8, self.b8), 1)


# ------------------------------------------------------------------ weights in another layout --------

_TF_SHAPES = {  # height, width, in, out (TensorFlow's HWIO); dense layers in, out
    "conv1": (11, 11, 3, 96), "conv2": (5, 5, 48, 256), "conv3": (3, 3, 256, 384), "conv4": (3, 3, 192, 384),
    "conv5": (3, 3, 192, 256), "fc6": (9216, 4096), "fc7": (4096, 4096), "fc8": (4096, 1000)}


class TFPortNet(nn.Module):
    """Weights ported from a TensorFlow checkpoint: kernels HWIO and biases in ParameterDicts, a grouped
    convolution by tf.split of kernel and input then concat, dense layers by torch.addmm, every bias a
    separate `+ b` (in NHWC while the activations are channels-last, as the port keeps them)."""

    GROUPS = {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}

    def __init__(self, groups=None, lrn=None, bias_form="nhwc", tf_lrn=False):
        super().__init__()
        self.weights = nn.ParameterDict({k: nn.Parameter(torch.empty(s)) for k, s in _TF_SHAPES.items()})
        self.biases = nn.ParameterDict({k: nn.Parameter(torch.empty(s[-1])) for k, s in _TF_SHAPES.items()})
        self.groups = dict(self.GROUPS, **(groups or {}))
        for name, g in self.groups.items():
            if g != self.GROUPS[name]:
                h, w, i, o = _TF_SHAPES[name]
                self.weights[name] = nn.Parameter(torch.empty(h, w, i * self.GROUPS[name] // g, o))
        self.lrn = dict(PAPER_LRN, **(lrn or {}))
        self.bias_form, self.tf_lrn = bias_form, tf_lrn
        paper_init([(self.weights[k], self.biases[k]) for k in _TF_SHAPES])

    def conv(self, x, name, stride=1, padding=0):
        """x in NHWC; the kernel is HWIO; the bias is added in NHWC after the convolution."""
        w = self.weights[name].permute(3, 2, 0, 1)  # HWIO -> OIHW
        x = x.permute(0, 3, 1, 2)
        g = self.groups[name]
        if g == 1:
            y = F.conv2d(x, w, stride=stride, padding=padding)
        else:
            xs = torch.split(x, x.shape[1] // g, dim=1)
            ws = torch.split(w, w.shape[0] // g, dim=0)
            y = torch.cat([F.conv2d(a, k, stride=stride, padding=padding) for a, k in zip(xs, ws, strict=True)], 1)
        if self.bias_form == "nchw":
            return (y + self.biases[name].view(1, -1, 1, 1)).permute(0, 2, 3, 1)
        return y.permute(0, 2, 3, 1) + self.biases[name]

    def norm(self, x):
        """tf.nn.local_response_normalization over the last (channel) axis, torch's LRN on NCHW underneath;
        with `tf_lrn`, written out on the channels-last tensor as TensorFlow defines it (alpha on the plain sum)."""
        if self.tf_lrn:
            r = self.lrn["size"] // 2
            sq = F.pad(x.pow(2), (r, r))
            s = sum(sq[..., i:i + x.shape[-1]] for i in range(2 * r + 1))
            return x / (self.lrn["k"] + self.lrn["alpha"] / self.lrn["size"] * s).pow(self.lrn["beta"])
        y = F.local_response_norm(x.permute(0, 3, 1, 2), **self.lrn)
        return y.permute(0, 2, 3, 1)

    @staticmethod
    def pool(x):
        return F.max_pool2d(x.permute(0, 3, 1, 2), 3, 2).permute(0, 2, 3, 1)

    def dense(self, x, name):
        return torch.addmm(self.biases[name], x, self.weights[name])

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)  # NCHW -> NHWC
        x = self.pool(self.norm(F.relu(self.conv(x, "conv1", 4, 2))))
        x = self.pool(self.norm(F.relu(self.conv(x, "conv2", 1, 2))))
        x = F.relu(self.conv(x, "conv3", 1, 1))
        x = F.relu(self.conv(x, "conv4", 1, 1))
        x = self.pool(F.relu(self.conv(x, "conv5", 1, 1)))
        x = x.permute(0, 3, 1, 2).reshape(x.shape[0], -1)
        x = F.dropout(F.relu(self.dense(x, "fc6")), 0.5, self.training)
        x = F.dropout(F.relu(self.dense(x, "fc7")), 0.5, self.training)
        return self.dense(x, "fc8")


class SplitBiasNet(nn.Module):
    """Caffe-to-PyTorch port: per-layer weights and biases as Parameters in two dicts, grouped convs as
    split-and-concatenate, each bias added with `.add(b[None, :, None, None])` after the concatenation,
    dense layers as x.mm(W.t()) + b."""

    def __init__(self, one_bias=1.0):
        super().__init__()
        oihw = {"conv1": (96, 3, 11, 11), "conv2": (256, 48, 5, 5), "conv3": (384, 256, 3, 3),
                "conv4": (384, 192, 3, 3), "conv5": (256, 192, 3, 3)}
        dense = {"fc6": (4096, 9216), "fc7": (4096, 4096), "fc8": (1000, 4096)}
        self.w = nn.ParameterDict({k: nn.Parameter(torch.empty(s)) for k, s in {**oihw, **dense}.items()})
        self.b = nn.ParameterDict({k: nn.Parameter(torch.empty(s[0])) for k, s in {**oihw, **dense}.items()})
        self.norm = nn.LocalResponseNorm(**PAPER_LRN)
        paper_init([(self.w[k], self.b[k]) for k in self.w])
        with torch.no_grad():  # Caffe's bias_filler value 0.1 where the paper has 1 (conv2, conv4, conv5, fc6, fc7)
            for k in ("conv2", "conv4", "conv5", "fc6", "fc7"):
                self.b[k].fill_(one_bias)

    def conv(self, x, name, stride=1, padding=0, group=1):
        w = self.w[name]
        if group == 1:
            y = F.conv2d(x, w, None, stride, padding)
        else:
            y = torch.cat([F.conv2d(xi, wi, None, stride, padding)
                           for xi, wi in zip(x.chunk(group, 1), w.chunk(group, 0), strict=True)], 1)
        return y.add(self.b[name][None, :, None, None])

    def fc(self, x, name):
        return x.mm(self.w[name].t()) + self.b[name]

    def forward(self, x):
        x = F.max_pool2d(self.norm(F.relu(self.conv(x, "conv1", 4, 2))), 3, 2)
        x = F.max_pool2d(self.norm(F.relu(self.conv(x, "conv2", 1, 2, group=2))), 3, 2)
        x = F.relu(self.conv(x, "conv3", 1, 1))
        x = F.relu(self.conv(x, "conv4", 1, 1, group=2))
        x = F.max_pool2d(F.relu(self.conv(x, "conv5", 1, 1, group=2)), 3, 2)
        x = x.flatten(1)
        x = F.dropout(F.relu(self.fc(x, "fc6")), 0.5, self.training)
        x = F.dropout(F.relu(self.fc(x, "fc7")), 0.5, self.training)
        return self.fc(x, "fc8")


class BiasConv(nn.Module):
    """A hand-rolled conv layer: F.conv2d without bias, then `+ self.bias.view(1, -1, 1, 1).expand_as(y)`."""

    def __init__(self, cin, cout, k, stride=1, padding=0, groups=1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin // groups, k, k))
        self.bias = nn.Parameter(torch.empty(cout))
        self.stride, self.padding, self.groups = stride, padding, groups

    def forward(self, x):
        y = F.conv2d(x, self.weight, stride=self.stride, padding=self.padding, groups=self.groups)
        return y + self.bias.view(1, -1, 1, 1).expand_as(y)


class ExpandBiasNet(nn.Module):
    """Every conv a BiasConv (bias expanded to the output's shape with expand_as), the rest torchvision-like."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([BiasConv(3, 96, 11, 4, 2), BiasConv(96, 256, 5, 1, 2, 2),
                                    BiasConv(256, 384, 3, 1, 1), BiasConv(384, 384, 3, 1, 1, 2),
                                    BiasConv(384, 256, 3, 1, 1, 2)])
        self.norm = nn.LocalResponseNorm(**PAPER_LRN)
        self.classifier = nn.Sequential(*_classifier())
        lin = [m for m in self.classifier if isinstance(m, nn.Linear)]
        paper_init([(c.weight, c.bias) for c in self.convs] + [(m.weight, m.bias) for m in lin])

    def forward(self, x):
        c = self.convs
        x = F.max_pool2d(self.norm(F.relu(c[0](x))), 3, 2)
        x = F.max_pool2d(self.norm(F.relu(c[1](x))), 3, 2)
        x = F.relu(c[3](F.relu(c[2](x))))
        x = F.max_pool2d(F.relu(c[4](x)), 3, 2)
        return self.classifier(x.flatten(1))


# ------------------------------------------------------------------ normalisations as graphs ---------

class BroadcastLRN:
    """A plain object: the input's channel axis zero-padded by half a window, a constant kernel over every
    (padded) channel convolving its squares into a one-channel [N, 1, H, W] sum, and the [N, C, H, W]
    input divided by it (broadcast); with `every_channel=False` the kernel is the 0/1 band of a local window."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, every_channel=True):
        self.size, self.alpha, self.beta, self.k, self.every = size, alpha, beta, k, every_channel

    def __call__(self, x):
        half = self.size // 2
        padded = F.pad(x, (0, 0, 0, 0, half, half))
        c = padded.shape[1]
        if self.every:
            kernel = torch.ones(1, c, 1, 1, dtype=x.dtype)
        else:
            idx = torch.arange(x.shape[1])
            kernel = ((torch.arange(c)[None, :] - idx[:, None] - half).abs() <= half).to(x.dtype)[:, :, None, None]
        div = F.conv2d(padded.pow(2), kernel)
        return x / (self.k + self.alpha * div).pow(self.beta)


class AvgPool3dLRN(nn.Module):
    """The LRN of many ports (an nn.AvgPool3d over a channel axis of the unsqueezed squares), with the
    input read twice: `x.div(div)` after `div = x.pow(2).unsqueeze(1)`."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.average = nn.AvgPool3d(kernel_size=(size, 1, 1), stride=1, padding=((size - 1) // 2, 0, 0))
        self.alpha, self.beta, self.k, self.size = alpha, beta, k, size

    def forward(self, x):
        div = x.pow(2).unsqueeze(1)
        div = self.average(div).squeeze(1)
        div = div.mul(self.alpha * self.size).add(self.k).pow(self.beta)
        return x.div(div)


class GraphLRNNet(nn.Module):
    """Modules for layers, an LRN object (any of the above) called in forward."""

    def __init__(self, lrn=None, cross_map=False):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)
        if cross_map:
            self.lrn1 = nn.CrossMapLRN2d(5, 1e-4 * 5, 0.75, 2.0)
            self.lrn2 = nn.CrossMapLRN2d(5, 1e-4 * 5, 0.75, 2.0)
        else:
            self.lrn1 = self.lrn2 = lrn if lrn is not None else BroadcastLRN()

    def forward(self, x):
        f = self.features
        x = f[3](self.lrn1(f[1](f[0](x))))
        x = f[7](self.lrn2(f[5](f[4](x))))
        x = f[8:](x)
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ padding modes --------------------

def padded_features(mode="reflect"):
    """The paper's features with every conv's padding in another mode (nn.Conv2d(padding_mode=...))."""
    f = _features()
    for m in f:
        if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
            m.padding_mode = mode
    return f


class PaddingModeNet(nn.Module):
    """Convs with padding_mode='reflect' (or 'replicate', 'circular')."""

    def __init__(self, mode="reflect"):
        super().__init__()
        self.features = nn.Sequential(*padded_features(mode))
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class ReflectionPadNet(nn.Module):
    """Explicit nn.ReflectionPad2d / nn.ReplicationPad2d layers before unpadded convs (pix2pix style)."""

    def __init__(self, pad=nn.ReflectionPad2d):
        super().__init__()
        f = _features()
        out = []
        for m in f:
            if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
                out.append(pad(m.padding[0]))
                m.padding = (0, 0)
            out.append(m)
        self.features = nn.Sequential(*out)
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class FunctionalPadNet(PaddingModeNet):
    """F.pad(x, ..., mode='replicate') in forward before each padded conv, conv padding 0."""

    def __init__(self, mode="replicate"):
        super().__init__("zeros")
        self.mode = mode
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                m.pad_by = m.padding[0]
                m.padding = (0, 0)

    def forward(self, x):
        for m in self.features:
            if isinstance(m, nn.Conv2d) and m.pad_by:
                x = F.pad(x, (m.pad_by,) * 4, mode=self.mode)
            x = m(x)
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ pool1 removed ---------------------

class NoPool1Net(nn.Module):
    """pool1 dropped from the features; an nn.AdaptiveAvgPool2d((6, 6)) before the classifier rescues fc6's
    input size (torchvision's head)."""

    def __init__(self):
        super().__init__()
        f = _features()
        del f[3]
        self.features = nn.Sequential(*f)
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ------------------------------------------------------------------ PCA lighting, present but different --

IMAGENET_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


class EpochPCANoise:
    """AlexNet PCA noise whose alpha is drawn once per epoch: the training loop calls `new_epoch()`, which
    draws from numpy's global generator (nothing of its own to seed)."""

    def __init__(self, std=0.1):
        self.std = std
        self.new_epoch()

    def new_epoch(self):
        import numpy as np

        self.alpha = torch.from_numpy(np.random.normal(0, self.std, 3)).float()

    def __call__(self, t):
        return t + (IMAGENET_EIGVEC @ (self.alpha * IMAGENET_EIGVAL)).view(3, 1, 1)


class Lighting:
    """The fb.resnet.torch Lighting port: alpha ~ N(0, alphastd) per call along the ImageNet eigenvectors."""

    def __init__(self, alphastd=0.1, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC):
        self.alphastd, self.eigval, self.eigvec = alphastd, eigval, eigvec

    def __call__(self, img):
        alpha = img.new_empty(3).normal_(0, self.alphastd)
        rgb = (self.eigvec * alpha.view(1, 3) * self.eigval.view(1, 3)).sum(1)
        return img + rgb.view(3, 1, 1)


def train_transform(lighting, *, after_tensor=True):
    """The §2/§4.1 geometry with `lighting` after ToTensor (or before it, on the PIL image), then Normalize."""
    from torchvision import transforms as T

    steps = [T.Resize(256), T.CenterCrop(256), T.RandomCrop(224), T.RandomHorizontalFlip()]
    tail = [T.ToTensor(), lighting] if after_tensor else [lighting, T.ToTensor()]
    return T.Compose([*steps, *tail, T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])


def albumentations_transform(p=0.5, alpha=0.1):
    """albumentations' own pipeline with A.FancyPCA (applied with probability p, its default 0.5)."""
    import albumentations as A

    return A.Compose([A.SmallestMaxSize(256), A.RandomCrop(224, 224), A.HorizontalFlip(),
                      A.FancyPCA(alpha=alpha, p=p), A.Normalize()])


class EpochAttributeNoise:
    """PCA noise redrawn once per epoch by an attribute the training loop sets (`tf.epoch = epoch`): alpha is
    drawn from torch's global generator on the first call of each epoch; no method to call."""

    def __init__(self, std=0.1):
        self.std, self.epoch, self._drawn_for, self.alpha = std, 0, None, None

    def __call__(self, t):
        if self._drawn_for != self.epoch:
            self.alpha, self._drawn_for = torch.randn(3) * self.std, self.epoch
        return t + (IMAGENET_EIGVEC @ (self.alpha * IMAGENET_EIGVAL)).view(3, 1, 1)


def lambda_epoch_noise():
    """EpochPCANoise wrapped in a T.Lambda (the loop keeps a handle and calls its new_epoch())."""
    from torchvision import transforms as T

    return train_transform(T.Lambda(EpochPCANoise()))


# ------------------------------------------------------------------ a block as one module -------------

class ReluLrnPool(nn.Module):
    """One module for the whole post-conv block, arithmetic in its own forward: clamp, LRN by a channel
    cumulative sum, max-pool (a region that changes the shape is read call by call)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, pool=3):
        super().__init__()
        self.size, self.alpha, self.beta, self.k, self.pool = size, alpha, beta, k, pool

    def forward(self, x):
        x = x.clamp(min=0)
        half = self.size // 2
        cs = F.pad(x * x, (0, 0, 0, 0, half + 1, half)).cumsum(dim=1)
        x = x / (self.k + self.alpha * (cs[:, self.size:] - cs[:, :-self.size])) ** self.beta
        return F.max_pool2d(x, self.pool, 2)


class BlockModuleNet(nn.Module):
    """Convs as modules, each of blocks 1 and 2 finished by one ReluLrnPool module."""

    def __init__(self, **block):
        super().__init__()
        self.features = nn.Sequential(*_features())
        self.block1, self.block2 = ReluLrnPool(**block), ReluLrnPool(**block)
        self.classifier = nn.Sequential(*_classifier())
        _init_modules(self)

    def forward(self, x):
        f = self.features
        x = self.block2(f[4](self.block1(f[0](x))))
        return self.classifier(torch.flatten(f[8:](x), 1))


# ------------------------------------------------------------------ PCA noise drawn once per run -------

class RunPCANoise:
    """AlexNet PCA noise whose alpha is drawn once, in the constructor, and never again: every image of a run
    gets the same colour shift (a common slip: the draw belongs in __call__)."""

    def __init__(self, alphastd=0.1, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC):
        self.alphastd, self.eigval, self.eigvec = alphastd, eigval, eigvec
        self.alpha = torch.randn(3) * alphastd

    def __call__(self, img):
        return img + (self.eigvec @ (self.alpha * self.eigval)).view(3, 1, 1)


class NumpyRunLighting:
    """The same slip with numpy: `self.rgb` computed once in __init__ from np.random.normal, added in a T.Lambda."""

    def __init__(self, std=0.1):
        import numpy as np

        self.std = std
        alpha = np.random.normal(0, std, 3)
        self.rgb = torch.from_numpy((IMAGENET_EIGVEC.numpy() * alpha * IMAGENET_EIGVAL.numpy()).sum(1)).float()

    def __call__(self, t):
        return t + self.rgb.view(3, 1, 1)


# ------------------------------------------------------------------ brightness and contrast --------------

class RandomBrightness:
    """A hand-written brightness jitter on the tensor: one uniform number in [-b, b] added to every channel."""

    def __init__(self, b=0.2):
        self.b = b

    def __call__(self, t):
        return t + (torch.rand(1) * 2 - 1) * self.b


class RandomBrightnessContrast:
    """albumentations' RandomBrightnessContrast re-implemented on the tensor (brightness_by_max): x * alpha + beta,
    alpha in 1 +- contrast, beta in +- brightness, applied with probability p."""

    def __init__(self, brightness=0.2, contrast=0.2, p=0.5):
        self.brightness, self.contrast, self.p = brightness, contrast, p

    def __call__(self, t):
        if torch.rand(1) >= self.p:
            return t
        alpha = 1 + (torch.rand(1) * 2 - 1) * self.contrast
        beta = (torch.rand(1) * 2 - 1) * self.brightness
        return (t * alpha + beta).clamp(0, 1)


def albumentations_brightness(p=0.5, **kw):
    """albumentations' own pipeline with A.RandomBrightnessContrast (its defaults: 0.2 and 0.2, p=0.5)."""
    import albumentations as A

    return A.Compose([A.SmallestMaxSize(256), A.RandomCrop(224, 224), A.HorizontalFlip(),
                      A.RandomBrightnessContrast(p=p, **kw), A.Normalize()])
