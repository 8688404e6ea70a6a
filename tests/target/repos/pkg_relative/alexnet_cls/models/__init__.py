from .alexnet import AlexNet
from .factory import build_model

__all__ = ["AlexNet", "build_model"]
