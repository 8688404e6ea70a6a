"""python -m train --data /imagenet"""
import torch

from alexnet_cls import build_model
from alexnet_cls.config import IMAGE_SIZE

if __name__ == "__main__":
    model = build_model()
    print(model(torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE)).shape)
