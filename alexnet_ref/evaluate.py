"""The §4.1 test protocol: average the softmax over ten patches of each image."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ten_crop_predict"]

NUM_VIEWS = 10  # §4.1, eval.ten_crop: four corners + centre, and their horizontal reflections


@torch.no_grad()
def ten_crop_predict(model: nn.Module, crops: torch.Tensor) -> torch.Tensor:
    """Class probabilities, the softmax averaged over the ten views of each image (§4.1).

    `crops` is Bx10x3xHxW (or 10x3xHxW for one image, as `eval_transform` gives); the result is
    B x num_classes (1 x num_classes for one image). Averaging probabilities, not logits, is
    what the paper describes. The caller chooses the mode: call `model.eval()` first.
    """
    if crops.dim() == 4:
        crops = crops.unsqueeze(0)
    if crops.dim() != 5:
        raise ValueError(f"expected Bx10xCxHxW or 10xCxHxW crops, got shape {tuple(crops.shape)}")
    batch, views = crops.shape[:2]
    logits = model(crops.flatten(0, 1))
    return logits.softmax(dim=-1).view(batch, views, -1).mean(dim=1)
