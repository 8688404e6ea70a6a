import torch.nn as nn


class ConvReLU(nn.Sequential):
    def __init__(self, in_ch, out_ch, kernel_size, stride=1, padding=0, groups=1):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding, groups=groups),
            nn.ReLU(inplace=True),
        )


class LRN(nn.Module):
    """Local response normalisation across channels (section 3.3)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.norm = nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)

    def forward(self, x):
        return self.norm(x)
