"""alexnet_impl: a clean-room AlexNet."""
from alexnet_impl.model import AlexNet, alexnet

__all__ = ["AlexNet", "alexnet"]
