"""Full-size AlexNets written in the styles real repositories use, each with known defects, for the
location tests (tests/audit/test_locations.py). A line whose comment says `loc: ID ...` is where the
finding of each ID must point: the test reads these markers, so the lines may move freely."""
import torch
import torch.nn as nn
import torch.nn.functional as F

LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}  # the paper's §3.3 constants, in torch's convention


class SequentialNet(nn.Module):
    """nn.Sequential entries; LRN k=1 (PyTorch's default), torchvision's dropout order, default init."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4, padding=2),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=1.0),  # loc: lrn.k
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=1.0),  # loc: lrn.k
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),  # loc: dropout.placement
            nn.Linear(256 * 6 * 6, 4096),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.Dropout(0.5),  # loc: dropout.placement
            nn.Linear(4096, 4096),  # loc: init.weights init.biases
            nn.ReLU(),
            nn.Linear(4096, 1000),  # loc: init.weights init.biases
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class NamedNet(nn.Module):
    """Named attributes, one module per step; average pooling; init code with biases 0.1 everywhere."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.lrn1 = nn.LocalResponseNorm(**LRN)
        self.pool1 = nn.AvgPool2d(3, 2)  # loc: pool.type
        self.conv2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.lrn2 = nn.LocalResponseNorm(**LRN)
        self.pool2 = nn.AvgPool2d(3, 2)  # loc: pool.type
        self.conv3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.conv4 = nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.pool5 = nn.AvgPool2d(3, 2)  # loc: pool.type
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 1000)
        self.drop = nn.Dropout(0.5)
        self.reset_weights()

    def reset_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)  # loc: init.weights
                nn.init.constant_(m.bias, 0.1)  # loc: init.biases

    def forward(self, x):
        x = self.pool1(self.lrn1(F.relu(self.conv1(x))))
        x = self.pool2(self.lrn2(F.relu(self.conv2(x))))
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = self.pool5(F.relu(self.conv5(x)))
        x = self.drop(F.relu(self.fc6(torch.flatten(x, 1))))
        x = self.drop(F.relu(self.fc7(x)))
        return self.fc8(x)


class FunctionalNet(nn.Module):
    """Everything but the weight layers in forward: F.local_response_norm with k=1 in block 1 only, and
    F.dropout with p=0.3."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, 4, 2)
        self.conv2 = nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, 1, 1)
        self.conv4 = nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 1000)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=1.0)  # loc: lrn.k
        x = F.max_pool2d(x, 3, 2)
        x = F.relu(self.conv2(x))
        x = F.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0)
        x = F.max_pool2d(x, 3, 2)
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = F.relu(self.fc6(torch.flatten(x, 1)))
        x = F.dropout(x, 0.3, self.training)  # loc: dropout.p
        x = F.relu(self.fc7(x))
        x = F.dropout(x, 0.3, self.training)  # loc: dropout.p
        return self.fc8(x)


class HandLRN(nn.Module):
    """§3.3 written out: b = a / (k + alpha * sum over n neighbours of a^2)^beta (alpha on the plain sum)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.n, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        sq = F.pad(x.pow(2), (0, 0, 0, 0, self.n // 2, (self.n - 1) // 2))
        s = sum(sq[:, i:i + x.shape[1]] for i in range(self.n))
        return x / (self.k + self.alpha * s).pow(self.beta)


class HandNet(nn.Module):
    """A hand-written LRN layer (beta 0.5) and fc8 as a hand-written product on raw Parameters."""

    def __init__(self):
        super().__init__()
        self.body = nn.ModuleList([
            nn.Conv2d(3, 96, 11, 4, 2),
            HandLRN(beta=0.5),  # loc: lrn.beta
            nn.Conv2d(96, 256, 5, 1, 2, groups=2),
            HandLRN(beta=0.5),  # loc: lrn.beta
            nn.Conv2d(256, 384, 3, 1, 1),
            nn.Conv2d(384, 384, 3, 1, 1, groups=2),
            nn.Conv2d(384, 256, 3, 1, 1, groups=2),
        ])
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.w8 = nn.Parameter(torch.randn(1000, 4096) * 0.01)
        self.b8 = nn.Parameter(torch.zeros(1000))

    def forward(self, x):
        conv1, lrn1, conv2, lrn2, conv3, conv4, conv5 = self.body
        x = F.max_pool2d(lrn1(F.relu(conv1(x))), 3, 2)
        x = F.max_pool2d(lrn2(F.relu(conv2(x))), 3, 2)
        x = F.max_pool2d(F.relu(conv5(F.relu(conv4(F.relu(conv3(x)))))), 3, 2)
        x = F.dropout(F.relu(self.fc6(torch.flatten(x, 1))), 0.5, self.training)
        x = F.dropout(F.relu(self.fc7(x)), 0.5, self.training)
        return x @ self.w8.t() + self.b8  # loc: arch.fc8.out_features
