"""Evaluate a checkpoint (ten-crop)."""
import argparse

import torch

from lib.model import AlexNet

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    args = parser.parse_args()
    model = AlexNet()
    model.load_state_dict(torch.load(args.checkpoint))
