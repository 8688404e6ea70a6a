from .alexnet import AlexNet


def build_model(name: str = "alexnet", **kwargs):
    if name != "alexnet":
        raise ValueError(f"unknown model {name}")
    return AlexNet(**kwargs)
