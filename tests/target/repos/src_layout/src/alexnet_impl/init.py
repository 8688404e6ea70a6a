import torch.nn as nn


def init_paper_weights(module: nn.Module) -> None:
    """Section 5: N(0, 0.01) weights; biases 1 in conv2, conv4, conv5 and the hidden dense layers, else 0."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    for m in convs + linears:
        nn.init.normal_(m.weight, mean=0.0, std=0.01)
        nn.init.zeros_(m.bias)
    for m in (convs[1], convs[3], convs[4], linears[0], linears[1]):
        nn.init.ones_(m.bias)
