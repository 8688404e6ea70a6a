"""The AlexNet of Krizhevsky, Sutskever & Hinton (NIPS 2012), layer by layer as the paper states it.

Section numbers are those of the NIPS 2012 paper; ids in comments are the `paper_spec.yaml` items
that audit each constant; "paper notes §x.y" is section x.y of docs/paper_notes.md. The constants
are written here (not read from the spec) so that this package depends on torch alone and stays a
usable training model.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

__all__ = ["AlexNet", "LocalResponseNorm", "alexnet"]

LRNConvention = Literal["paper", "alpha_over_n"]

# §3.3, lrn.size / lrn.k / lrn.alpha / lrn.beta: "k = 2, n = 5, alpha = 10^-4, beta = 0.75".
LRN_SIZE = 5
LRN_K = 2.0
LRN_ALPHA = 1e-4
LRN_BETA = 0.75

# §5, init.weights: every weight ~ N(0, 0.01^2).
INIT_WEIGHT_STD = 0.01
# §5, init.biases: 1 in conv2, conv4, conv5 and the hidden fc layers, 0 in the rest.
INIT_BIAS = {
    "conv1": 0.0,
    "conv2": 1.0,
    "conv3": 0.0,
    "conv4": 1.0,
    "conv5": 1.0,
    "fc6": 1.0,
    "fc7": 1.0,
    "fc8": 0.0,
}


class LocalResponseNorm(nn.LocalResponseNorm):
    """§3.3 response normalisation, b_i = a_i / (k + alpha * sum_{|j-i| <= n/2} a_j^2)^beta.

    The window is clipped at the first and last map, exactly as printed. This subclasses
    `nn.LocalResponseNorm` (so tools that know PyTorch's LRN recognise it) and reuses its kernel,
    which is the same function: PyTorch zero-pads the channel window (zeros add nothing to a
    clipped sum) and averages it, i.e. divides its alpha by n. Hence, with `convention="paper"`
    (alpha multiplies the plain sum, lrn.alpha) the stored PyTorch `alpha` is `alpha * size`;
    with `convention="alpha_over_n"` (the authors' cuda-convnet and Caffe reading, paper notes
    §2.3) it is `alpha` itself.

    The PyTorch attributes `size`, `alpha`, `beta`, `k` keep PyTorch's meaning; `sum_alpha` is the
    coefficient of each squared term in the plain window sum (1e-4 as printed, 2e-5 for alpha/n).
    """

    def __init__(
        self,
        size: int = LRN_SIZE,
        alpha: float = LRN_ALPHA,
        beta: float = LRN_BETA,
        k: float = LRN_K,
        convention: LRNConvention = "paper",
    ) -> None:
        if convention == "paper":
            torch_alpha = alpha * size
        elif convention == "alpha_over_n":
            torch_alpha = alpha
        else:
            raise ValueError(f"convention must be 'paper' or 'alpha_over_n', got {convention!r}")
        super().__init__(size=size, alpha=torch_alpha, beta=beta, k=k)
        self.convention: LRNConvention = convention
        self.sum_alpha: float = torch_alpha / size

    def extra_repr(self) -> str:
        extra = f"convention={self.convention!r}, sum_alpha={self.sum_alpha:g}"
        return f"{super().extra_repr()}, {extra}"


class AlexNet(nn.Module):
    """The paper's eight-layer net (§3.5, Figure 2) as one device's equivalent of the two-GPU net.

    The two GPU columns become `groups=2` on conv2, conv4 and conv5, the layers whose kernels see
    only their own GPU's maps (§3.2); conv3 and the fc layers see everything. Layers carry the
    paper's names (`features.conv1` ... `classifier.fc8`).

    Args:
        num_classes: width of fc8 (1000 in the paper, arch.fc8.out_features).
        grouped: False gives the single-GPU variant (groups=1 everywhere, 62,378,344 parameters).
        input_size: 224 as in the paper (conv1 overhangs the right/bottom edge by 3 zero pixels,
            like the authors' cuda-convnet), or 227 (Caffe's padding-free equivalent).
        lrn_convention: "paper" (alpha multiplies the plain sum) or "alpha_over_n".
        dropout: drop probability on the outputs of fc6 and fc7 (§4.2, dropout.p).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        grouped: bool = True,
        input_size: int = 224,
        lrn_convention: LRNConvention = "paper",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if input_size not in (224, 227):
            raise ValueError(f"input_size must be 224 or 227, got {input_size}")
        groups = 2 if grouped else 1  # §3.2, arch.conv{2,4,5}.groups: same-GPU connections only
        self.num_classes = num_classes
        self.input_size = input_size

        stem: list[tuple[str, nn.Module]] = []
        if input_size == 224:
            # §3.5 + paper notes §1.3, arch.input_size: cuda-convnet lets the last receptive field
            # overhang the right/bottom edge by 4*54 + 11 - 224 = 3 zero pixels, giving 55x55.
            stem.append(("pad1", nn.ZeroPad2d((0, 3, 0, 3))))
        # ReLUs are not in-place, so hooks on a conv see its true pre-activation output.
        self.features = nn.Sequential(
            OrderedDict(
                stem
                + [
                    # §3.5, arch.conv1.*: 96 kernels 11x11x3, stride 4.
                    ("conv1", nn.Conv2d(3, 96, kernel_size=11, stride=4)),
                    ("relu1", nn.ReLU()),  # §3.1, arch.relu_placement
                    ("lrn1", LocalResponseNorm(convention=lrn_convention)),  # §3.3, lrn.placement
                    # §3.4, pool.kernel_size / pool.stride: overlapping pooling, z = 3, s = 2.
                    ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
                    # §3.5, arch.conv2.*: 256 kernels 5x5x48; pad 2 keeps 27x27 (arch.feature_maps).
                    ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups)),
                    ("relu2", nn.ReLU()),
                    ("lrn2", LocalResponseNorm(convention=lrn_convention)),
                    ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
                    # §3.5, arch.conv3.*: 384 kernels 3x3x256, connected to all of layer 2's maps.
                    ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
                    ("relu3", nn.ReLU()),
                    # §3.5, arch.conv4.*: 384 kernels 3x3x192.
                    ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups)),
                    ("relu4", nn.ReLU()),
                    # §3.5, arch.conv5.*: 256 kernels 3x3x192.
                    ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups)),
                    ("relu5", nn.ReLU()),
                    ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),  # §3.5, pool.placement
                ]
            )
        )
        # §4.2, dropout.placement / dropout.p: dropout on the (post-ReLU) outputs of fc6 and fc7.
        # nn.Dropout is inverted dropout, equivalent to the paper's test-time x0.5 (dropout.eval).
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(256 * 6 * 6, 4096)),  # §3.5, arch.fc6.out_features
                    ("relu6", nn.ReLU()),
                    ("drop6", nn.Dropout(p=dropout)),
                    ("fc7", nn.Linear(4096, 4096)),  # §3.5, arch.fc7.out_features
                    ("relu7", nn.ReLU()),
                    ("drop7", nn.Dropout(p=dropout)),
                    # §3.5, arch.fc8.out_features; no ReLU: fc8 feeds the softmax in the loss.
                    ("fc8", nn.Linear(4096, num_classes)),
                ]
            )
        )
        self.reset_parameters()

    def weight_layers(self) -> dict[str, nn.Conv2d | nn.Linear]:
        """The eight layers with weights, by their paper names (conv1 ... fc8)."""
        layers = {**dict(self.features.named_children()), **dict(self.classifier.named_children())}
        out: dict[str, nn.Conv2d | nn.Linear] = {}
        for name in INIT_BIAS:
            layer = layers[name]
            assert isinstance(layer, nn.Conv2d | nn.Linear), name
            out[name] = layer
        return out

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """§5 initialisation (init.weights, init.biases): N(0, 0.01^2) weights, 0/1 biases."""
        for name, layer in self.weight_layers().items():
            nn.init.normal_(layer.weight, mean=0.0, std=INIT_WEIGHT_STD)
            assert layer.bias is not None, name  # every paper layer has a bias
            nn.init.constant_(layer.bias, INIT_BIAS[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)  # 6 * 6 * 256 = 9216 inputs to fc6
        return self.classifier(x)


def alexnet(
    num_classes: int = 1000,
    *,
    grouped: bool = True,
    input_size: int = 224,
    lrn_convention: LRNConvention = "paper",
) -> AlexNet:
    """A freshly initialised paper AlexNet; see `AlexNet` for the arguments."""
    return AlexNet(
        num_classes,
        grouped=grouped,
        input_size=input_size,
        lrn_convention=lrn_convention,
    )
