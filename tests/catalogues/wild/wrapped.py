"""Wild forms that wrap the bundled reference: TorchScript, DataParallel, AveragedModel, torch.compile,
channels_last, and the reference with some modules swapped (to carry one defect through a wrapper)."""
from __future__ import annotations

import torch
import torch.nn as nn


def reference():
    """The bundled reference net (alexnet_ref), the form the wrappers below wrap."""
    from alexnet_ref.model import AlexNet
    return AlexNet()


def scripted():
    return torch.jit.script(reference())


def traced():
    return torch.jit.trace(reference().eval(), torch.randn(1, 3, 224, 224))


def data_parallel():
    return nn.DataParallel(reference())


def averaged():
    from torch.optim.swa_utils import AveragedModel
    return AveragedModel(reference())


def compiled():
    return torch.compile(reference())


def reference_with(**swaps):
    """The reference net with some of its named modules replaced (features.relu3=nn.Tanh(), ...)."""
    m = reference()
    for path, mod in swaps.items():
        parent, _, leaf = path.replace("__", ".").rpartition(".")
        setattr(m.get_submodule(parent), leaf, mod)
    return m


def scripted_tanh():
    return torch.jit.script(reference_with(features__relu3=nn.Tanh()))


def data_parallel_avgpool():
    return nn.DataParallel(reference_with(features__pool1=nn.AvgPool2d(3, 2), features__pool2=nn.AvgPool2d(3, 2),
                                          features__pool5=nn.AvgPool2d(3, 2)))


def channels_last():
    return reference().to(memory_format=torch.channels_last)


def nested_script(part: str = "features", **swaps):
    """An eager net with one TorchScript part (`self.features = torch.jit.script(features)`): hooks cannot
    see into that part, so its ops are recorded at the dispatcher level within the eager trace."""
    m = reference_with(**swaps)
    setattr(m, part, torch.jit.script(getattr(m, part)))
    return m
