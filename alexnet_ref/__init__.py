"""The AlexNet paper (Krizhevsky, Sutskever & Hinton, NIPS 2012) as executable code.

A reference that audits with no deviation and trains for real: the grouped eight-layer net with
§3.3 response normalisation and §5 initialisation, the §5 SGD update rule, the §2/§4.1 data
pipeline (PCA lighting, ten-patch testing) and the recipe as a plain dict. Depends on torch and
torchvision only.
"""

from .evaluate import ten_crop_predict
from .model import AlexNet, LocalResponseNorm, alexnet
from .optim import PaperSGD
from .recipe import recipe
from .transforms import MeanSubtraction, PCALighting, eval_transform, train_transform

__all__ = [
    "AlexNet",
    "LocalResponseNorm",
    "MeanSubtraction",
    "PCALighting",
    "PaperSGD",
    "alexnet",
    "eval_transform",
    "recipe",
    "ten_crop_predict",
    "train_transform",
]
